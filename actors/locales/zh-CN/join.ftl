# hcal 写入会议邀请的入会信息（简体中文）。

join-heading = 加入 { $platform } 会议
meeting-link = 会议链接
video-address = 通过视频地址加入
meeting-number = 会议号
dial-in = 电话拨入
field = { $label }:
