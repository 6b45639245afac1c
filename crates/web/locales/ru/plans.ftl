plans-title = Тарифы
plans-filter = Фильтр тарифов
any = Любой
field-period = Срок
period-days = Пакеты для поездок (N дней)
field-min-data = Трафик не меньше
at-least-gb = от { $n } ГБ
field-max-price = Цена не выше ({ $currency })
plans-apply = Показать тарифы
plans-count = { $n ->
    [one] { $n } тариф
    [few] { $n } тарифа
   *[many] { $n } тарифов
}
plans-how-to-buy = Чтобы купить, начните с номера:
plans-enter-number = введите номер или ICCID
