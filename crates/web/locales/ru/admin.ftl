admin-console = Консоль сотрудника
admin-sign-in = Вход для сотрудников
admin-sign-out = Выйти
admin-home = Консоль
admin-code = Код из приложения-аутентификатора
admin-code-hint = Шесть цифр; новый код каждые 30 секунд.
admin-wrong-code = Код неверный или уже использован. Введите тот, что приложение показывает сейчас.
admin-forbidden-title = Недоступно для вашей роли
admin-forbidden-text = Ваша роль не даёт доступа к этой странице. Если он нужен, обратитесь к администратору.
admin-role-admin = Администратор
admin-role-clerk = Сотрудник салона
admin-role-support = Поддержка
admin-role = Роль
admin-choose-role = Выберите роль.
admin-counter = Касса
admin-customers = Клиенты
admin-staff = Сотрудники
admin-audit = Журнал действий
admin-audit-hint = Все действия сотрудников, сначала новые. Записи нельзя изменить или удалить.
admin-search = Номер телефона, ICCID или e-mail клиента
admin-find = Найти
admin-nothing-found = Ничего не найдено. Проверьте номер или попросите SIM-карту.
admin-number = Номер
admin-status = Статус
admin-balance = Баланс
admin-renew-page = Страница продления
admin-orders = Последние заказы
admin-name = Имя
admin-name-rule = Укажите имя от 1 до 100 символов.
admin-first-password = Первый пароль (не меньше 8 символов)
admin-add-staff = Добавить сотрудника
admin-added = { $email } теперь может войти.
admin-when = Когда
admin-who = Кто
admin-what = Что
admin-on-what = Над чем
admin-before = До
admin-after = После
admin-totp = Второй фактор
admin-totp-set-up = Включить второй фактор
admin-totp-on = Второй фактор включён
admin-totp-how = Отсканируйте код приложением-аутентификатором (или введите секрет), затем введите код, который оно покажет.
admin-totp-secret = Секрет:
admin-totp-enable = Включить
admin-sale = Продажа в салоне
admin-renewal = продление
admin-what-to-sell = Что покупает клиент
admin-topup-amount = Сумма пополнения
admin-how-paid = Как платит клиент
admin-paid-cash = Наличные
admin-received = Получено наличными
admin-received-needed = Введите сумму наличных, которую передал клиент.
admin-card-terminal = Карта через терминал салона
admin-reference = Номер чека терминала
admin-reference-needed = Введите номер, напечатанный на чеке терминала.
admin-paid-card = Карта через терминал салона, чек { $reference }
admin-receipt-language = Язык чека (клиента)
admin-sell = Принять оплату и напечатать чек
admin-cash-short = Наличных не хватает: { $missing }.
admin-sale-changed = Эта форма уже использована для другой продажи. Откройте линию снова для новой продажи.
admin-clerk = Обслужил
admin-change = Сдача
admin-paper-80 = Чековый принтер 80 мм
admin-till = Касса смены
admin-till-needed = Сначала откройте кассу (Касса смены на главной странице консоли): наличные принимаются в открытую кассу.
admin-till-open = Открыть кассу
admin-till-close = Закрыть кассу
admin-till-opened = Открыта
admin-till-float = Размен (наличные в кассе в начале смены)
admin-till-taken = Принято наличными за смену
admin-till-sales = { $n ->
    [one] { $n } продажа
    [few] { $n } продажи
   *[many] { $n } продаж
}
admin-till-expected = Должно быть в кассе
admin-till-counted = Пересчитано в кассе
admin-till-note = Примечание (почему расхождение, если оно есть)
admin-till-closed-title = Касса закрыта
admin-till-difference = Расхождение
admin-till-even = Без расхождений
admin-till-short = Недостача
admin-till-over = Излишек
admin-sim = Выдать новую SIM-карту
admin-sim-hint = Для иностранного гражданина закон требует документ, удостоверяющий личность, и IMEI телефона; число номеров на одного человека ограничено.
admin-sim-doc-type = Документ
admin-sim-passport = Паспорт
admin-sim-residence = Вид на жительство
admin-sim-other = Другой документ
admin-sim-country = Страна выдачи (две буквы: CN, RU…)
admin-sim-doc-number = Номер документа
admin-sim-name = ФИО как в документе
admin-sim-issue = Выдать SIM и продать тариф
admin-sim-doc-type-wrong = Выберите тип документа.
admin-sim-country-wrong = Две буквы страны выдачи, например CN или RU.
admin-sim-number-wrong = Номер документа: от 4 до 20 букв и цифр.
admin-sim-name-wrong = Имя так, как оно написано в документе.
admin-sim-none-left = SIM-карты этого оператора закончились.
admin-sim-limit = { $n ->
    [one] У этого человека уже { $n } номер от нас — это предел по закону.
    [few] У этого человека уже { $n } номера от нас — это предел по закону.
   *[many] У этого человека уже { $n } номеров от нас — это предел по закону.
}
admin-password = Сменить пароль
admin-password-current = Текущий пароль
admin-password-new = Новый пароль (не меньше 8 символов)
admin-password-changed = Пароль изменён. Другие ваши сеансы завершены.
admin-password-current-wrong = Текущий пароль неверный.
admin-deactivate = Отключить
admin-activate = Включить
admin-inactive = Отключён
admin-resend-esim = Отправить письмо с установкой eSIM ещё раз
admin-resend-to = кому (пусто: адрес покупателя)
admin-resent = Отправлено ещё раз.
admin-resend-nothing = Для этой eSIM сейчас нечего отправить (не выпущена или ошибка: сначала перевыпуск), или не указан адрес.
admin-inventory = Склад
admin-inventory-sims = SIM-карты в салоне
admin-inventory-esims = Номера eSIM в продаже
admin-inventory-profiles = Профили eSIM по состояниям
admin-inventory-low = { $n ->
    [one] мало: меньше { $n }
    [few] мало: меньше { $n }
   *[many] мало: меньше { $n }
}
admin-inventory-import = Загрузить на склад
admin-inventory-kind = Что
admin-inventory-csv = По строке ICCID,номер (как в файле поставщика)
admin-inventory-empty = В файле нет строк ICCID,номер.
admin-inventory-bad-line = Строка { $line }: { $reason }. Ничего не загружено.
admin-inventory-imported = Добавлено: { $added }, уже было: { $known }.
admin-reports = Продажи
admin-reports-from = С
admin-reports-to = По (включительно)
admin-reports-total = Продано
admin-reports-chart = Рубли по дням
admin-reports-channel = Канал
admin-reports-period-wrong = Выберите первый и последний день (первый раньше последнего, не больше года).
admin-promotions = Акции
admin-promo-name = Название для покупателей
admin-promo-discount = Скидка
admin-promo-window = Действует
admin-promo-scope = Для чего
admin-promo-uses = Заказы
admin-promo-end = Завершить
admin-promo-ended = Акция завершена; цены уже оформленных заказов не меняются.
admin-promo-added = Акция сохранена.
admin-promo-add = Добавить акцию
admin-promo-campaign = акция (без кода)
admin-promo-all-plans = все тарифы
admin-promo-per-customer-n = { $n ->
    [one] { $n } раз на покупателя
    [few] { $n } раза на покупателя
   *[many] { $n } раз на покупателя
}
admin-promo-code-hint = Оставьте пустым для акции, которая сама снижает цены, пока идёт (праздник).
admin-promo-percent = Скидка в процентах
admin-promo-fixed = Скидка суммой
admin-promo-plans = Тарифы (идентификаторы через запятую; пусто — все)
admin-promo-channels-hint = Ничего не отмечено — все каналы.
admin-promo-per-customer = Использований на покупателя (пусто — без ограничения)
admin-promo-total = Использований всего (пусто — без ограничения)
admin-promo-err-name = Укажите название для покупателей хотя бы на одном языке.
admin-promo-err-discount = Укажите процент от 1 до 100 или сумму больше нуля.
admin-promo-err-window = Выберите первый и последний день, первый не позже последнего.
admin-promo-err-limit = Ограничение — целое число не меньше 1 или пусто.
admin-promo-err-code-taken = Этот код уже есть у другой акции.
admin-promo-err-plans = Одного из этих тарифов нет в каталоге.
