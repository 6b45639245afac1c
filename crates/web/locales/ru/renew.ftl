renew-title = Продление { $number }
current-until = текущий тариф до { $date }
balance-is = Баланс: { $amount }
my-line-link = моя линия
choose-plan = 1. Выберите тариф
addons-title = Дополнительный трафик на текущий период
start-options = Когда начать?
start-now = Начать сейчас, а не после текущего тарифа
start-now-hint = Остаток текущего тарифа можно будет использовать до его окончания.
choose-payment = 2. Оплата
pay-balance = С баланса линии
pay-demo = Демо-карта (деньги не списываются)
pay-later = Оплатить онлайн (способ — на следующей странице)
pay-button = Оплатить
renew-owner-hint = Это ваша линия? Войдите, чтобы платить с баланса и видеть остаток трафика.
starts-now-until = начнётся сейчас, до { $date }
starts-from-until = с { $from } до { $date }
line-suspended-title = Линия заблокирована
topup-title = Или пополните баланс линии
topup-amount = Сумма ({ $currency })
topup-button = Пополнить
pay-card-mir = Банковская карта (Мир, Visa, Mastercard) через ЮKassa
pay-sbp = СБП — Система быстрых платежей, из приложения банка
pay-alipay = Alipay (по QR-коду или в приложении)
pay-wechat = WeChat Pay (по QR-коду в WeChat)
pay-card-usd = Карта (Visa, Mastercard, Amex) в долларах США через Stripe
pay-card-eur = Карта (Visa, Mastercard, Amex) в евро через Stripe
pay-paypal-usd = PayPal, в долларах США
pay-paypal-eur = PayPal, в евро
pay-saved = Сохранённая { $title }
remember-card = Запомнить карту для автопродления (карты через ЮKassa)
promo-title = Есть промокод?
promo-label = Промокод
promo-hint = Одна скидка на тариф: меньшая цена по вашему коду или по текущей акции.
promo-until = { $name }, до { $date }
err-promo-format = Промокод — от 3 до 32 букв, цифр или дефисов.
err-promo-unknown = Акции с таким кодом нет. Проверьте написание.
err-promo-not-running = Этот код сейчас не действует.
err-promo-not-applicable = Этот код не действует для этого тарифа или для цен в этой валюте.
err-promo-used-up = Все использования этого кода исчерпаны.
err-promo-customer-limit = { $n ->
    [one] Этот код можно использовать { $n } раз на покупателя, и вы его уже использовали.
    [few] Этот код можно использовать { $n } раза на покупателя, и вы их уже использовали.
   *[many] Этот код можно использовать { $n } раз на покупателя, и вы их уже использовали.
}
