esim-title = Install your eSIM
esim-state-available = Not assigned yet
esim-state-allocated = Being prepared
esim-state-released = Ready to install
esim-state-downloaded = Downloaded to the phone
esim-state-installed = Installed
esim-state-enabled = Installed and on
esim-state-disabled = Installed, turned off
esim-state-deleted = Deleted from the phone
esim-state-error = Installation failed
esim-state-cancelled = Cancelled
esim-advice-available = We are assigning your eSIM; this page updates when it is ready.
esim-advice-allocated = We are preparing your eSIM; this page updates when it is ready.
esim-advice-released = Install it now, on the phone you will use abroad, over Wi-Fi. One of the three ways below is enough.
esim-advice-downloaded = The phone has the eSIM; let it finish installing.
esim-advice-installed = Done. Turn the new line on for mobile data in Settings, and turn on data roaming when abroad.
esim-advice-enabled = Done: the eSIM is on.
esim-advice-disabled = The eSIM is installed but off: turn it on in Settings → Mobile data.
esim-advice-deleted = This eSIM was deleted from the phone. Contact support for a new one.
esim-advice-error = The eSIM could not be installed. Get a new code below (it is free), or contact support.
esim-advice-cancelled = This code was replaced; use the newest one from your order.
esim-scan = Scan with the phone's camera
esim-scan-hint = Settings → Mobile data → Add eSIM → Use QR code. Show this code on another screen or print it.
esim-iphone = On this iPhone
esim-iphone-button = Install on this iPhone
esim-iphone-hint = One tap, iOS 17.4 or newer. Older iPhones: scan the code or type the details below.
esim-manual = Type it in
esim-smdp = SM-DP+ address
esim-code = Activation code
esim-whole-code = The whole code
esim-manual-hint = Android: Settings → Network → SIMs → Add eSIM → enter code manually. iPhone: Add eSIM → Use QR code → Enter details manually.
esim-back-to-order = Back to the order
esim-help = Help with eSIM
copy = Copy
copied = Copied
esim-new-title = Buy a new eSIM
esim-new-intro = A Russian number on your phone without a plastic card: choose the operator, then a plan, pay, and install it at once.
esim-new-operator = Operator
esim-new-left = { $n ->
    [0] sold out
    [one] { $n } left
   *[other] { $n } left
}
esim-new-eid = Your phone's EID (optional)
esim-new-eid-hint = 32 digits, in Settings → General → About (iPhone) or Settings → About phone → SIM status (Android). Given, the eSIM installs on that phone only.
esim-new-button = Choose a plan
esim-new-choose-operator = Choose an operator.
esim-new-eid-wrong = This is not an EID: 32 digits, as the phone shows it.
esim-new-sold-out = No eSIM of this operator is left right now. Choose another operator, or ask support.
esim-reissue-button = Get a new code
esim-reissue-limit = This eSIM has been reissued as often as we can do it here. Please contact support.
esim-reissue-failed = The eSIM provider could not issue a new code just now. Please try again in a few minutes, or contact support.
esim-qr-download = Save the code as a picture
esim-new-email = E-mail for the install code (optional)
esim-new-email-hint = We send the QR code and how to install it, so you have it on another screen.
esim-new-imei = Your phone's IMEI (optional)
esim-new-imei-hint = 15 digits: dial *#06# on the phone. Kept with your eSIM for support.
esim-new-too-many = { $n ->
    [one] You have reserved several numbers already. Pay for one, or try again in { $n } minute.
   *[other] You have reserved several numbers already. Pay for one, or try again in { $n } minutes.
}
esim-cc = Confirmation code
esim-cc-hint = The phone asks for it while installing. It is not in the QR code: keep it to yourself.
esim-cc-withheld = This eSIM needs a confirmation code: sign in as the buyer to see it, or use the one we e-mailed you.
esim-sandbox-phone = Demo: install it on the sandbox phone
esim-mail-subject = Your eSIM: how to install it
esim-mail-body = Your eSIM is ready to install. Install it over Wi-Fi on the phone you will use abroad.

    Install page (QR code and help): { $page }

    On an iPhone (iOS 17.4 or newer), one tap: { $apple }

    Or scan the attached QR code (esim.png) from another screen: Settings → Mobile data → Add eSIM → Use QR code.

    To type it in:
    SM-DP+ address: { $smdp }
    Activation code: { $code }
esim-mail-code-apart = The confirmation code comes in a separate e-mail.
esim-mail-code-subject = Your eSIM confirmation code
esim-mail-code-body = Your eSIM confirmation code: { $code }

    The phone asks for it while installing the eSIM. Do not share it: with the QR code, it installs your number.
