site-description = Продление тарифов российских SIM и eSIM (МТС, Билайн, МегаФон, T2) из любой страны, на русском, китайском или английском.
skip-to-content = Перейти к содержанию
nav-label = Главное меню
nav-plans = Тарифы
nav-help = Помощь
nav-account = Мой кабинет
nav-sign-in = Войти
offline-banner = Нет связи. Ниже — последние известные данные и время, когда они получены.
demo-banner = Демо-магазин: оплата имитируется, деньги не списываются.
language-label = Язык
currency-label = Валюта
support-label = Поддержка
support-title = Нужна помощь? Напишите нам
support-phone = Телефон
support-wechat = WeChat
support-email = Эл. почта
back = Назад
amount-gb = { $n } ГБ
amount-mb = { $n } МБ
date = { $day } { $month } { $year }
datetime = { $date }, { $time } МСК
month-1 = января
month-2 = февраля
month-3 = марта
month-4 = апреля
month-5 = мая
month-6 = июня
month-7 = июля
month-8 = августа
month-9 = сентября
month-10 = октября
month-11 = ноября
month-12 = декабря
ago-now = только что
ago-minutes = { $n ->
    [one] { $n } минуту назад
    [few] { $n } минуты назад
   *[many] { $n } минут назад
}
ago-hours = { $n ->
    [one] { $n } час назад
    [few] { $n } часа назад
   *[many] { $n } часов назад
}
ago-days = { $n ->
    [one] { $n } день назад
    [few] { $n } дня назад
   *[many] { $n } дней назад
}
days = { $n ->
    [one] { $n } день
    [few] { $n } дня
   *[many] { $n } дней
}
csrf-title = Попробуйте ещё раз
csrf-text = Форма была открыта слишком долго или пришла с другого сайта, поэтому мы её не отправили. Вернитесь, обновите страницу и отправьте снова.
unavailable-title = Временно недоступно
unavailable-text = Что-то пошло не так на нашей стороне. Деньги не списаны. Попробуйте через минуту.
not-found-title = Страница не найдена
not-found-text = По этому адресу ничего нет. Проверьте ссылку или начните с главной страницы.
offline-title = Нет связи
offline-text = Эта страница не сохранена для работы без сети. В кабинете показан последний известный баланс.
op-mts = МТС
op-beeline = Билайн
op-megafon = МегаФон
op-t2 = T2
field-operator = Оператор
field-line = Номер телефона или ICCID
field-line-hint = Например +7 916 123-45-67, 8 916 123 45 67 или 19–20 цифр, напечатанных на SIM-карте.
until = до { $date }
addon = доп. пакет
col-plan = Тариф
col-data = Интернет
col-period = Срок
col-price = Цена
col-compare = Сравнение
col-date = Дата
col-what = Что
col-total = Итого
col-status = Статус
sim-physical = SIM-карта
validity-day = 1 день
validity-week = 1 неделя
validity-month = 1 месяц
validity-year = 1 год
data-unlimited = Безлимит (полная скорость до { $fair })
per-gb = { $price } за ГБ
per-day = { $price } в день
addon-until-period-end = до конца текущего периода
err-id-characters = Используйте только цифры, пробелы, дефисы и + в начале.
err-id-length = Нужно { $expected } цифр, а введено { $found }.
err-iccid-prefix = ICCID начинается с 89. Проверьте номер на карте.
err-iccid-check = В ICCID опечатка (не сходится контрольная цифра). Проверьте номер на карте.
err-eid-check = Этот EID неверен. Скопируйте его ещё раз из настроек телефона.
err-msisdn-ambiguous = Введите российский мобильный номер: +7 9xx…, 8 9xx… или 9xx….
err-not-a-line = Это не номер телефона и не ICCID.
err-line-not-found = Мы не обслуживаем линию с таким номером или ICCID. Проверьте его или обратитесь в поддержку.
err-line-suspended = Линия заблокирована оператором, продлить её сейчас нельзя. Обратитесь в поддержку.
err-choose-plan = Выберите тариф.
err-no-active-period = Доп. пакет подключается к действующему тарифу: сначала продлите линию.
err-plan-not-for-line = Этот тариф нельзя купить для этой линии. Выберите другой.
err-insufficient-balance = На балансе линии недостаточно средств: не хватает { $missing }. Выберите другой способ оплаты или сначала пополните баланс.
err-not-owner = Платить с баланса может только владелец линии, войдя в кабинет.
err-order-not-pending = Этот заказ уже оплачен или закрыт.
err-email-taken = Этот адрес уже зарегистрирован. Войдите в кабинет.
err-bad-credentials = Неверный адрес или пароль.
err-line-attached = Эта линия уже привязана к другому кабинету.
err-wrong-puk = PUK-код не совпадает с напечатанным на держателе карты.
err-email-invalid = Введите адрес эл. почты, например name@example.com.
err-password-rule = Пароль должен быть не короче 8 символов.
err-invalid = Проверьте введённые данные.
err-choose-payment = Выберите способ оплаты.
err-too-many-attempts = { $n ->
    [one] Слишком много попыток. Попробуйте через { $n } минуту.
    [few] Слишком много попыток. Попробуйте через { $n } минуты.
   *[many] Слишком много попыток. Попробуйте через { $n } минут.
}
err-wrong-code = Код неверный или устарел. Проверьте SMS или запросите новый код.
err-too-many-codes = Слишком много кодов или попыток для этой линии. Попробуйте через час.
err-reset-link = Эта ссылка для сброса пароля уже использована или устарела. Запросите новую.
err-amount = Введите сумму, например 500 или 12,50.
err-topup-currency = Пополнение в этой валюте здесь недоступно. Выберите рубли внизу страницы.
