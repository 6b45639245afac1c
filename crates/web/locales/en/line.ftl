data-left = Data left
percent-left = { $n }% left
of-total = of { $total }
unlimited-note = unlimited, slower after the fair-use amount
usage-updated = usage updated { $ago }
usage-none = no usage reported yet
current-plan = Current plan
no-current-plan = No plan running: renew to get online.
queued = Next
renew-button = Renew
balance = Balance
as-of = updated { $ago }
buckets = Data by package
past-orders = Past orders
no-orders = No orders yet.
days-left = { $n ->
    [one] { $n } day left
   *[other] { $n } days left
}
forecast-enough = At your pace, the data will last until the end of the plan.
forecast-runs-out = At your pace, data runs out on { $date }.
advice-cheaper = In the last 30 days you used { $used }. { $plan } would have carried it for { $cost } instead of { $current }.
