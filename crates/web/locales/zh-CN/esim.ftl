esim-title = 安装您的 eSIM
esim-state-available = 尚未分配
esim-state-allocated = 准备中
esim-state-released = 可以安装
esim-state-downloaded = 已下载到手机
esim-state-installed = 已安装
esim-state-enabled = 已安装并启用
esim-state-disabled = 已安装，已关闭
esim-state-deleted = 已从手机删除
esim-state-error = 安装失败
esim-state-cancelled = 已取消
esim-advice-available = 正在为您分配 eSIM，准备好后本页会自动更新。
esim-advice-allocated = 正在为您准备 eSIM，准备好后本页会自动更新。
esim-advice-released = 请现在连接 Wi-Fi，在出行时使用的手机上安装。以下三种方式任选其一即可。
esim-advice-downloaded = 手机已收到 eSIM，请等待安装完成。
esim-advice-installed = 完成。请在设置中将新线路设为移动数据，出境后打开数据漫游。
esim-advice-enabled = 完成：eSIM 已启用。
esim-advice-disabled = eSIM 已安装但处于关闭状态：请在 设置 → 蜂窝网络 中打开。
esim-advice-deleted = 此 eSIM 已从手机删除。请联系客服获取新的 eSIM。
esim-advice-error = eSIM 安装失败。请在下方免费获取新的激活码，或联系客服。
esim-advice-cancelled = 此激活码已被替换，请使用订单中最新的激活码。
esim-scan = 用手机相机扫码
esim-scan-hint = 设置 → 蜂窝网络 → 添加 eSIM → 使用二维码。请在另一块屏幕上显示此码或打印出来。
esim-iphone = 在这部 iPhone 上
esim-iphone-button = 在这部 iPhone 上安装
esim-iphone-hint = 一键安装，需要 iOS 17.4 或更高版本。较早的 iPhone 请扫码或手动输入下面的信息。
esim-manual = 手动输入
esim-smdp = SM-DP+ 地址
esim-code = 激活码
esim-whole-code = 完整激活码
esim-manual-hint = 安卓：设置 → 网络 → SIM 卡 → 添加 eSIM → 手动输入激活码。iPhone：添加 eSIM → 使用二维码 → 手动输入详细信息。
esim-back-to-order = 返回订单
esim-help = eSIM 帮助
copy = 复制
copied = 已复制
esim-new-title = 购买新的 eSIM
esim-new-intro = 无需实体卡，在手机上使用俄罗斯号码：选择运营商和套餐，付款后立即安装。
esim-new-operator = 运营商
esim-new-left = { $n ->
    [0] 已售完
   *[other] 剩余 { $n } 个
}
esim-new-eid = 手机的 EID（可选）
esim-new-eid-hint = 32 位数字，位于 设置 → 通用 → 关于本机（iPhone）或 设置 → 关于手机 → SIM 卡状态（安卓）。填写后，eSIM 只能安装在这部手机上。
esim-new-button = 选择套餐
esim-new-choose-operator = 请选择运营商。
esim-new-eid-wrong = 这不是 EID：应为手机显示的 32 位数字。
esim-new-sold-out = 该运营商的 eSIM 暂时售完。请选择其他运营商，或联系客服。
esim-reissue-button = 获取新的激活码
esim-reissue-limit = 此 eSIM 在这里可重新签发的次数已用完。请联系客服。
esim-reissue-failed = eSIM 服务商暂时无法签发新的激活码。请几分钟后再试，或联系客服。
esim-qr-download = 将二维码保存为图片
esim-new-email = 接收安装码的邮箱（可选）
esim-new-email-hint = 我们会发送二维码和安装说明，方便您在另一块屏幕上查看。
esim-new-imei = 手机的 IMEI（可选）
esim-new-imei-hint = 15 位数字：在手机上拨打 *#06# 即可看到。与您的 eSIM 一起保存，便于客服查询。
esim-new-too-many = 您已预留了多个号码。请先支付其中一个，或 { $n } 分钟后再试。
esim-cc = 确认码
esim-cc-hint = 安装时手机会要求输入。它不在二维码里：请勿告诉他人。
esim-cc-withheld = 此 eSIM 需要确认码：请以购买者身份登录查看，或使用我们邮件中发送的确认码。
esim-sandbox-phone = 演示：安装到沙盒手机
esim-mail-subject = 您的 eSIM：安装方法
esim-mail-body = 您的 eSIM 已可安装。请连接 Wi-Fi，在出行时使用的手机上安装。

    安装页面（二维码和帮助）：{ $page }

    iPhone（iOS 17.4 及以上）一键安装：{ $apple }

    或在另一块屏幕上扫描附件中的二维码（esim.png）：设置 → 蜂窝网络 → 添加 eSIM → 使用二维码。

    手动输入：
    SM-DP+ 地址：{ $smdp }
    激活码：{ $code }
esim-mail-code-apart = 确认码将通过另一封邮件发送。
esim-mail-code-subject = 您的 eSIM 确认码
esim-mail-code-body = 您的 eSIM 确认码：{ $code }

    安装 eSIM 时手机会要求输入。请勿告诉他人：它与二维码一起即可安装您的号码。
