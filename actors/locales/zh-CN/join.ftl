# hcal 写入会议邀请的入会信息（简体中文）。

join-heading = 加入 { $platform } 会议
meeting-link = 会议链接
video-address = 通过视频地址加入
meeting-number = 会议号
dial-in = 电话拨入
field = { $label }:

notice-heading = hcal 无法为此邀请添加会议入会信息
notice-unknown-modifier = 关键字冒号后的文字不是 hcal 能识别的操作。请使用 :myroom、:onetime 或 :space，或只写关键字。
notice-platform-refused = { $platform } 未能为您提供会议（没有账户或被拒绝）。请联系管理员，然后编辑此邀请。
notice-series-not-bookable = 无法为整个系列会议预订单独的会议。请对系列会议使用不带 :onetime 的关键字。
notice-footer = 一旦可以添加入会信息，此提示将被替换。
