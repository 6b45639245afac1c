site-description = Renew Russian SIM and eSIM data plans (MTS, Beeline, MegaFon, T2) from anywhere, in English, Chinese or Russian.
skip-to-content = Skip to content
nav-label = Main
nav-plans = Plans
nav-help = Help
nav-account = My account
nav-sign-in = Sign in
offline-banner = You are offline. Figures below are the last ones seen, with their time.
demo-banner = Demo shop: payments are simulated and no money moves.
language-label = Language
currency-label = Currency
support-label = Support
support-title = Need help? Contact us
support-phone = Phone
support-wechat = WeChat
support-email = E-mail
back = Back
amount-gb = { $n } GB
amount-mb = { $n } MB
date = { $day } { $month } { $year }
datetime = { $date }, { $time } Moscow time
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = May
month-6 = Jun
month-7 = Jul
month-8 = Aug
month-9 = Sep
month-10 = Oct
month-11 = Nov
month-12 = Dec
ago-now = just now
ago-minutes = { $n ->
    [one] { $n } minute ago
   *[other] { $n } minutes ago
}
ago-hours = { $n ->
    [one] { $n } hour ago
   *[other] { $n } hours ago
}
ago-days = { $n ->
    [one] { $n } day ago
   *[other] { $n } days ago
}
days = { $n ->
    [one] { $n } day
   *[other] { $n } days
}
csrf-title = Please try again
csrf-text = This form was open too long or came from another site, so we did not send it. Go back, reload the page and send it again.
form-slow-title = The connection was too slow
form-slow-text = Your form stopped arriving before it was complete, so nothing was done with it and nothing was charged. Go back and send it again.
form-large-title = Form too large
form-large-text = This form was larger than we take, so nothing was done with it. Go back, shorten what you typed and send it again.
form-cut-title = The form did not arrive whole
form-cut-text = The connection broke while your form was on its way, so nothing was done with it and nothing was charged. Go back and send it again.
unavailable-title = Temporarily unavailable
unavailable-text = Something went wrong on our side. Nothing was charged. Please try again in a minute.
not-found-title = Page not found
not-found-text = There is nothing at this address. Check the link, or start from the home page.
offline-title = You are offline
offline-text = This page has not been saved for offline use. Your account page shows the last balance we saw.
op-mts = MTS
op-beeline = Beeline
op-megafon = MegaFon
op-t2 = T2
field-operator = Operator
field-line = Phone number or ICCID
field-line-hint = For example +7 916 123-45-67, 8 916 123 45 67, or the 19–20 digits printed on the SIM card.
until = until { $date }
addon = add-on
col-plan = Plan
col-data = Data
col-period = Period
col-price = Price
col-compare = Compare
col-date = Date
col-what = What
col-total = Total
col-status = Status
sim-physical = SIM card
validity-day = 1 day
validity-week = 1 week
validity-month = 1 month
validity-year = 1 year
data-unlimited = Unlimited (full speed up to { $fair })
per-gb = { $price } per GB
per-day = { $price } per day
addon-until-period-end = until the end of the current period
err-id-characters = Use only digits, spaces, dashes and a leading +.
err-id-length = Must have { $expected } digits; you typed { $found }.
err-iccid-prefix = An ICCID starts with 89. Check the number printed on the card.
err-iccid-check = This ICCID has a typo (its check digit does not match). Check the number printed on the card.
err-eid-check = This EID is not valid. Copy it again from Settings on the phone.
err-imei-check = This IMEI is not valid: 15 digits, as the phone shows it when you dial *#06#.
err-msisdn-ambiguous = Enter a Russian mobile number: +7 9xx…, 8 9xx… or 9xx….
err-not-a-line = This is neither a phone number nor an ICCID.
err-id-too-long = Too long: a number or card code is at most { $max } characters.
err-line-not-found = We do not serve a line with this number or ICCID. Check it, or contact support.
err-line-suspended = This line is suspended by the operator and cannot be renewed now. Contact support.
err-esim-not-sold = This number is a new eSIM that is not reserved for you (a reservation lasts 30 minutes). Buy a new eSIM to get one.
err-choose-plan = Choose a plan.
err-no-active-period = An add-on needs a current plan: renew the line first.
err-plan-not-for-line = This plan cannot be bought for this line. Choose another.
err-insufficient-balance = The line's balance is not enough: { $missing } is missing. Choose another way to pay or top up first.
err-not-owner = Only the line's owner, signed in, can pay from its balance.
err-order-not-pending = This order is already paid or closed.
err-email-taken = This address is already registered. Sign in instead.
err-bad-credentials = Wrong e-mail or password.
err-line-attached = This line already belongs to an account.
err-wrong-puk = This PUK does not match the one on the card's holder.
err-email-invalid = Enter an e-mail address like name@example.com.
err-password-rule = The password must have at least 8 characters.
err-invalid = Please check what you entered.
err-choose-payment = Choose how to pay.
err-too-many-attempts = { $n ->
    [one] Too many attempts. Try again in { $n } minute.
   *[other] Too many attempts. Try again in { $n } minutes.
}
err-wrong-code = This code is wrong or has expired. Check the SMS, or ask for a new code.
err-too-many-codes = Too many codes or attempts for this line. Try again in an hour.
err-reset-link = This password-reset link was already used or has expired. Ask for a new one.
err-amount = Enter an amount, for example 500 or 12.50.
err-topup-currency = Top-ups in this currency are not offered here. Choose roubles at the bottom of the page.
err-provider = The payment service did not answer. Nothing was charged. Try again in a minute, or choose another way to pay.
