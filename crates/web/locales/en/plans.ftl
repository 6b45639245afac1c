plans-title = Plans
plans-filter = Filter plans
any = Any
field-period = Period
period-days = Travel packs (N days)
field-min-data = Data at least
at-least-gb = { $n } GB or more
field-max-price = Price at most ({ $currency })
plans-apply = Show plans
plans-count = { $n ->
    [one] { $n } plan
   *[other] { $n } plans
}
plans-how-to-buy = To buy, start from your number:
plans-enter-number = enter your number or ICCID
