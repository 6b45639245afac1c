data-left = Осталось трафика
percent-left = осталось { $n }%
of-total = из { $total }
unlimited-note = безлимит, после лимита честного использования скорость ниже
usage-updated = расход обновлён { $ago }
usage-none = расход ещё не поступал
current-plan = Текущий тариф
no-current-plan = Тариф не подключён: продлите, чтобы выйти в интернет.
queued = Далее
renew-button = Продлить
balance = Баланс
as-of = обновлено { $ago }
buckets = Трафик по пакетам
past-orders = Прошлые заказы
no-orders = Заказов пока нет.
days-left = { $n ->
    [one] остался { $n } день
    [few] осталось { $n } дня
   *[many] осталось { $n } дней
}
forecast-enough = В вашем темпе трафика хватит до конца тарифа.
forecast-runs-out = В вашем темпе трафик закончится { $date }.
advice-cheaper = За последние 30 дней вы израсходовали { $used }. Тариф «{ $plan }» обошёлся бы в { $cost } вместо { $current }.
