"""The providers' own SDKs drive our stand-ins (see ../provider_sdks.rs).

argv[1]: the settings as JSON (the stand-ins' base URL, their credentials and keys).
The stand-ins send their notifications to `<base>/shop/<provider>`, which records them;
`GET` there lists them (headers and body as received).

Each provider's run pays, checks the notification with the SDK, asks the status, and
refunds; it prints `<provider>: ok` at its end. Any refusal by an SDK (a signature it does
not accept, an answer it cannot read) raises and fails the test.
"""

import json
import sys
import time
import urllib.parse
import urllib.request
import uuid

from cryptography.hazmat.primitives import serialization

S = json.loads(sys.argv[1])
BASE = S["base"]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def buyer(url, action="pay"):
    """The buyer presses Pay (or Cancel) on the stand-in's page."""
    data = urllib.parse.urlencode({"action": action}).encode()
    req = urllib.request.Request(url, data=data, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(req)
    except urllib.error.HTTPError as e:
        check(e.code in (302, 303), f"the buyer's page answered {e.code}")


def notifications(provider, count, timeout=10.0):
    """The first `count` notifications the stand-in sent the shop."""
    end = time.time() + timeout
    while True:
        with urllib.request.urlopen(f"{BASE}/shop/{provider}") as r:
            got = json.load(r)
        if len(got) >= count:
            return got
        check(time.time() < end, f"{provider}: {len(got)} notifications, waited for {count}")
        time.sleep(0.05)


def pem_body(pem):
    return "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))


# ---------------------------------------------------------------- Alipay (alipay-sdk-python)
def alipay():
    from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
    from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
    from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
    from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
    from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
    from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
    from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
    from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
    from alipay.aop.api.response.AlipayTradePrecreateResponse import AlipayTradePrecreateResponse
    from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
    from alipay.aop.api.response.AlipayTradeRefundResponse import AlipayTradeRefundResponse
    from alipay.aop.api.util import WebUtils
    from alipay.aop.api.util.SignatureUtils import verify_with_rsa

    # The SDK's transport always connects to port 80 or 443 (and fails to join a URL's
    # port to it): the one thing patched here, so that it reaches the stand-in's port.
    # Signing, the request's form and the answer's verification are the SDK's own.
    def get_http_connection(url, query_string, timeout):
        import http.client

        u = urllib.parse.urlparse(url)
        connection = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        return f"{u.scheme}://{u.netloc}{u.path}?{query_string}", connection

    WebUtils.get_http_connection = get_http_connection

    a = S["alipay"]
    # The SDK takes the application's key as Alipay's key tool gives it for non-Java
    # languages (PKCS#1, base64 without armour) and Alipay's key as SubjectPublicKeyInfo.
    key = serialization.load_pem_private_key(a["app_private_key"].encode(), None)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    cfg = AlipayClientConfig()
    cfg.server_url = f"{BASE}/alipay/gateway.do"
    cfg.app_id = a["app_id"]
    cfg.app_private_key = pem_body(pkcs1)
    cfg.alipay_public_key = pem_body(a["alipay_public_key"])
    client = DefaultAlipayClient(cfg)

    no = uuid.uuid4().hex
    model = AlipayTradePrecreateModel()
    model.out_trade_no = no
    model.total_amount = "88.80"
    model.subject = "MTS 月套餐 30 GB"
    req = AlipayTradePrecreateRequest(biz_model=model)
    req.notify_url = f"{BASE}/shop/alipay"
    # execute() checks the answer's signature with Alipay's public key, or raises.
    created = AlipayTradePrecreateResponse()
    created.parse_response_content(client.execute(req))
    check(created.is_success(), f"precreate: {created.code} {created.sub_code} {created.sub_msg}")
    check(created.out_trade_no == no, "precreate names our trade")
    check(created.qr_code.startswith(BASE), f"qr_code {created.qr_code}")

    buyer(created.qr_code)
    n = notifications("alipay", 1)[0]
    form = dict(urllib.parse.parse_qsl(n["body"], keep_blank_values=True))
    # Alipay's rule for asynchronous notifications: every parameter but sign and
    # sign_type, sorted by name, joined as k=v with &, values as received (decoded).
    content = "&".join(f"{k}={form[k]}" for k in sorted(form) if k not in ("sign", "sign_type"))
    check(form.get("sign_type") == "RSA2", f"sign_type {form.get('sign_type')}")
    check(verify_with_rsa(cfg.alipay_public_key, content.encode("utf-8"), form["sign"]), "notification signature")
    check(form["out_trade_no"] == no and form["trade_status"] == "TRADE_SUCCESS", f"notification {form}")
    check(form["total_amount"] == "88.80" and form["app_id"] == a["app_id"], f"notification {form}")

    q = AlipayTradeQueryModel()
    q.out_trade_no = no
    queried = AlipayTradeQueryResponse()
    queried.parse_response_content(client.execute(AlipayTradeQueryRequest(biz_model=q)))
    check(queried.is_success() and queried.trade_status == "TRADE_SUCCESS", f"query: {queried.trade_status}")
    check(queried.total_amount == "88.80", f"query amount {queried.total_amount}")

    r = AlipayTradeRefundModel()
    r.out_trade_no = no
    r.refund_amount = "30.00"
    r.out_request_no = uuid.uuid4().hex
    refunded = AlipayTradeRefundResponse()
    refunded.parse_response_content(client.execute(AlipayTradeRefundRequest(biz_model=r)))
    check(refunded.is_success(), f"refund: {refunded.code} {refunded.sub_code} {refunded.sub_msg}")
    check(refunded.refund_fee == "30.00", f"refund_fee {refunded.refund_fee}")

    # An unknown trade: a business error, still signed and read by the SDK.
    q.out_trade_no = uuid.uuid4().hex
    missing = AlipayTradeQueryResponse()
    missing.parse_response_content(client.execute(AlipayTradeQueryRequest(biz_model=q)))
    check(not missing.is_success() and missing.sub_code == "ACQ.TRADE_NOT_EXIST", f"missing: {missing.sub_code}")
    print("alipay: ok")


# ------------------------------------------------------------- WeChat Pay (wechatpayv3)
def wechatpay():
    from wechatpayv3 import WeChatPay, WeChatPayType

    w = S["wechatpay"]
    wx = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=w["mchid"],
        private_key=w["merchant_private_key"],
        cert_serial_no=w["serial_no"],
        appid=w["appid"],
        apiv3_key=w["api_v3_key"],
        notify_url=f"{BASE}/shop/wechatpay",
        public_key=w["public_key"],
        public_key_id=w["public_key_id"],
    )
    # The SDK has no setting for its gateway; the stand-in is where WeChat Pay would be.
    wx._core._gate_way = f"{BASE}/wechatpay"

    no = uuid.uuid4().hex
    # Every 2xx answer's Wechatpay-Signature is checked by the SDK, or it raises.
    code, message = wx.pay(description="MTS 月套餐 30 GB", out_trade_no=no, amount={"total": 8880, "currency": "CNY"})
    check(code == 200, f"native: {code} {message}")
    code_url = json.loads(message)["code_url"]

    buyer(code_url)
    n = notifications("wechatpay", 1)[0]
    # callback() checks the signature with the WeChat Pay public key named by
    # Wechatpay-Serial and decrypts the resource with the APIv3 key.
    event = wx.callback(n["headers"], n["body"])
    check(event is not None, "the SDK refused the notification")
    check(event["event_type"] == "TRANSACTION.SUCCESS", f"event {event['event_type']}")
    tx = event["resource"]
    check(tx["out_trade_no"] == no and tx["trade_state"] == "SUCCESS", f"resource {tx}")
    check(tx["amount"]["total"] == 8880 and tx["mchid"] == w["mchid"], f"resource {tx}")

    code, message = wx.query(out_trade_no=no)
    check(code == 200 and json.loads(message)["trade_state"] == "SUCCESS", f"query: {code} {message}")

    code, message = wx.refund(
        out_refund_no=uuid.uuid4().hex,
        amount={"refund": 3000, "total": 8880, "currency": "CNY"},
        out_trade_no=no,
    )
    check(code == 200, f"refund: {code} {message}")
    check(json.loads(message)["amount"]["refund"] == 3000, f"refund: {message}")

    # A forged notification (the body changed after signing) is refused by the SDK.
    forged = n["body"].replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ')
    check(wx.callback(n["headers"], forged) is None, "a changed body still verified")
    print("wechatpay: ok")


# --------------------------------------------------------------------- Stripe (stripe)
def stripe_():
    import stripe

    st = S["stripe"]
    client = stripe.StripeClient(st["secret_key"], base_addresses={"api": f"{BASE}/stripe"}, max_network_retries=0)
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "https://shop.example/orders/1",
            "cancel_url": "https://shop.example/orders/1",
            "client_reference_id": "order-1",
            "metadata": {"order_id": "order-1"},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {"currency": "usd", "unit_amount": 1299, "product_data": {"name": "MTS Month 30 GB"}},
                }
            ],
        },
        options={"idempotency_key": uuid.uuid4().hex},
    )
    check(session.object == "checkout.session" and session.status == "open", f"session {session}")
    check(session.amount_total == 1299 and session.currency == "usd", f"session {session}")

    buyer(session.url)
    n = notifications("stripe", 1)[0]
    sig = n["headers"].get("stripe-signature", "")
    # construct_event checks Stripe-Signature (HMAC-SHA256 of "t.body", 300 s tolerance).
    event = stripe.Webhook.construct_event(n["body"], sig, st["webhook_secret"])
    check(event.type == "checkout.session.completed", f"event {event.type}")
    paid = event.data.object
    check(paid.id == session.id and paid.payment_status == "paid", f"event object {paid}")
    try:
        stripe.Webhook.construct_event(n["body"], sig, st["webhook_secret"] + "x")
        raise AssertionError("a wrong endpoint secret verified")
    except stripe.SignatureVerificationError:
        pass

    again = client.v1.checkout.sessions.retrieve(session.id)
    check(again.payment_status == "paid" and again.payment_intent, f"retrieve {again}")
    refund = client.v1.refunds.create(
        params={"payment_intent": again.payment_intent, "amount": 500},
        options={"idempotency_key": uuid.uuid4().hex},
    )
    check(refund.object == "refund" and refund.amount == 500, f"refund {refund}")

    # A request the API refuses comes back as the SDK's typed error.
    try:
        client.v1.checkout.sessions.retrieve("cs_test_missing")
        raise AssertionError("an unknown session was found")
    except stripe.InvalidRequestError as e:
        check(e.http_status == 404, f"unknown session: {e.http_status}")
    print("stripe: ok")


# ----------------------------------------------------------------- YooKassa (yookassa)
def yookassa():
    from yookassa import Configuration, Payment, Refund
    from yookassa.domain.notification import WebhookNotificationFactory

    def receipt(value):
        """A 54-FZ receipt of one service item, as a shop sends it with the payment."""
        item = {
            "description": "MTS Месяц 30 ГБ",
            "quantity": "1.00",
            "amount": {"value": value, "currency": "RUB"},
            "vat_code": 1,
            "payment_mode": "full_payment",
            "payment_subject": "service",
        }
        return {"customer": {"email": "traveller@example.com"}, "items": [item]}

    y = S["yookassa"]
    Configuration.configure(y["shop_id"], y["secret_key"], api_url=f"{BASE}/yookassa/v3", max_attempts=1)
    key = str(uuid.uuid4())
    body = {
        "amount": {"value": "750.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": "https://shop.example/orders/1"},
        "description": "Продление +7 916 123-45-67",
        "metadata": {"order_id": "order-1"},
        "receipt": receipt("750.00"),
    }
    payment = Payment.create(body, key)
    check(payment.status == "pending", f"create: {payment.status}")
    check(Payment.create(body, key).id == payment.id, "the same Idempotence-Key made a second payment")

    buyer(payment.confirmation.confirmation_url)
    n = notifications("yookassa", 1)[0]
    note = WebhookNotificationFactory().create(json.loads(n["body"]))
    check(note.event == "payment.succeeded" and note.object.id == payment.id, f"notification {note.event}")

    found = Payment.find_one(payment.id)
    check(found.status == "succeeded" and found.paid, f"find_one: {found.status}")
    check(found.amount.value == 750.0 and found.amount.currency == "RUB", f"amount {found.amount}")
    refund = Refund.create(
        {
            "payment_id": payment.id,
            "amount": {"value": "100.00", "currency": "RUB"},
            "receipt": receipt("100.00"),
        },
        str(uuid.uuid4()),
    )
    check(refund.status == "succeeded" and refund.payment_id == payment.id, f"refund {refund.status}")
    print("yookassa: ok")


# ------------------------------------------------------------ PayPal (paypal-server-sdk)
def paypal():
    from paypalserversdk.configuration import Configuration, Environment, Server
    from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
    from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
    from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
    from paypalserversdk.models.money import Money
    from paypalserversdk.models.order_request import OrderRequest
    from paypalserversdk.models.payment_source import PaymentSource
    from paypalserversdk.models.paypal_wallet import PaypalWallet
    from paypalserversdk.models.paypal_wallet_experience_context import PaypalWalletExperienceContext
    from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
    from paypalserversdk.models.refund_request import RefundRequest
    from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

    p = S["paypal"]
    # The SDK knows two environments by their URLs; its sandbox one is pointed here.
    Configuration.environments[Environment.SANDBOX][Server.DEFAULT] = f"{BASE}/paypal"
    client = PaypalServersdkClient(
        client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
            o_auth_client_id=p["client_id"], o_auth_client_secret=p["secret"]
        ),
        environment=Environment.SANDBOX,
    )
    order = OrderRequest(
        intent=CheckoutPaymentIntent.CAPTURE,
        purchase_units=[
            PurchaseUnitRequest(
                reference_id="order-1",
                custom_id="attempt-1",
                amount=AmountWithBreakdown(currency_code="USD", value="12.99"),
            )
        ],
        payment_source=PaymentSource(
            paypal=PaypalWallet(
                experience_context=PaypalWalletExperienceContext(
                    return_url="https://shop.example/orders/1", cancel_url="https://shop.example/orders/1"
                )
            )
        ),
    )
    created = client.orders.create_order({"body": order, "paypal_request_id": uuid.uuid4().hex})
    check(created.status_code == 200 and created.body is not None, f"create: {created.status_code} {created.text}")
    check(created.body.status == "PAYER_ACTION_REQUIRED", f"create: {created.body.status}")
    approve = next(l.href for l in created.body.links if l.rel == "payer-action")

    buyer(approve)
    n = notifications("paypal", 1)[0]
    event = json.loads(n["body"])
    check(event["event_type"] == "CHECKOUT.ORDER.APPROVED", f"event {event['event_type']}")
    check(all(n["headers"].get(h) for h in ("paypal-transmission-id", "paypal-transmission-sig", "paypal-cert-url")), "PAYPAL-* headers")

    captured = client.orders.capture_order({"id": created.body.id, "paypal_request_id": uuid.uuid4().hex, "prefer": "return=representation"})
    check(captured.status_code in (200, 201) and captured.body.status == "COMPLETED", f"capture: {captured.status_code} {captured.text}")
    capture = captured.body.purchase_units[0].payments.captures[0]
    check(capture.amount.value == "12.99" and capture.status == "COMPLETED", f"capture {capture.status}")

    got = client.orders.get_order({"id": created.body.id})
    check(got.body.status == "COMPLETED", f"get: {got.body.status}")
    refund = client.payments.refund_captured_payment(
        {
            "capture_id": capture.id,
            "body": RefundRequest(amount=Money(currency_code="USD", value="5.00")),
            "paypal_request_id": uuid.uuid4().hex,
        }
    )
    check(refund.status_code in (200, 201) and refund.body.status == "COMPLETED", f"refund: {refund.status_code} {refund.text}")
    print("paypal: ok")


failed = []
for name, run in [("alipay", alipay), ("wechatpay", wechatpay), ("stripe", stripe_), ("yookassa", yookassa), ("paypal", paypal)]:
    try:
        run()
    except Exception as e:  # report every provider, then fail
        import traceback

        traceback.print_exc()
        print(f"{name}: FAILED: {type(e).__name__}: {e}")
        failed.append(name)
sys.exit(1 if failed else 0)
