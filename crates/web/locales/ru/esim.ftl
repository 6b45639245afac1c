esim-title = Установка eSIM
esim-state-available = Ещё не назначена
esim-state-allocated = Готовим
esim-state-released = Готова к установке
esim-state-downloaded = Загружена на телефон
esim-state-installed = Установлена
esim-state-enabled = Установлена и включена
esim-state-disabled = Установлена, выключена
esim-state-deleted = Удалена с телефона
esim-state-error = Установка не удалась
esim-state-cancelled = Отменена
esim-advice-available = Назначаем вашу eSIM; страница обновится, когда всё будет готово.
esim-advice-allocated = Готовим вашу eSIM; страница обновится, когда всё будет готово.
esim-advice-released = Установите её сейчас на телефон, которым будете пользоваться в поездке, через Wi-Fi. Достаточно одного из трёх способов ниже.
esim-advice-downloaded = Телефон получил eSIM; дождитесь окончания установки.
esim-advice-installed = Готово. Включите новую линию для мобильного интернета в настройках и включите роуминг данных за границей.
esim-advice-enabled = Готово: eSIM включена.
esim-advice-disabled = eSIM установлена, но выключена: включите её в Настройки → Сотовая связь.
esim-advice-deleted = Эта eSIM удалена с телефона. Обратитесь в поддержку за новой.
esim-advice-error = eSIM не удалось установить. Получите новый код ниже (бесплатно) или напишите в поддержку.
esim-advice-cancelled = Этот код заменён; используйте самый новый из вашего заказа.
esim-scan = Отсканируйте камерой телефона
esim-scan-hint = Настройки → Сотовая связь → Добавить eSIM → QR-код. Откройте этот код на другом экране или распечатайте.
esim-iphone = На этом iPhone
esim-iphone-button = Установить на этот iPhone
esim-iphone-hint = Одно касание, iOS 17.4 и новее. На старых iPhone отсканируйте код или введите данные ниже.
esim-manual = Ввести вручную
esim-smdp = Адрес SM-DP+
esim-code = Код активации
esim-whole-code = Код целиком
esim-manual-hint = Android: Настройки → Сеть → SIM-карты → Добавить eSIM → ввести код вручную. iPhone: Добавить eSIM → QR-код → Ввести данные вручную.
esim-back-to-order = Вернуться к заказу
esim-help = Помощь с eSIM
copy = Копировать
copied = Скопировано
esim-new-title = Купить новую eSIM
esim-new-intro = Российский номер в телефоне без пластиковой карты: выберите оператора, затем тариф, оплатите и сразу установите.
esim-new-operator = Оператор
esim-new-left = { $n ->
    [0] нет в наличии
    [one] осталась { $n }
    [few] осталось { $n }
   *[many] осталось { $n }
}
esim-new-eid = EID вашего телефона (необязательно)
esim-new-eid-hint = 32 цифры: Настройки → Основные → Об этом устройстве (iPhone) или Настройки → О телефоне → Статус SIM (Android). Если указать, eSIM установится только на этот телефон.
esim-new-button = Выбрать тариф
esim-new-choose-operator = Выберите оператора.
esim-new-eid-wrong = Это не EID: нужно 32 цифры, как показывает телефон.
esim-new-sold-out = eSIM этого оператора сейчас закончились. Выберите другого оператора или напишите в поддержку.
esim-reissue-button = Получить новый код
esim-reissue-limit = Эту eSIM уже перевыпускали столько раз, сколько можно здесь. Напишите, пожалуйста, в поддержку.
esim-reissue-failed = Поставщик eSIM не смог выпустить новый код прямо сейчас. Попробуйте через несколько минут или напишите в поддержку.
esim-qr-download = Сохранить код картинкой
