# hcal が招待に書き込む参加情報（日本語）。

join-heading = { $platform } ミーティングに参加
meeting-link = ミーティングのリンク
video-address = ビデオアドレスで参加
meeting-number = ミーティング番号
dial-in = 電話で参加
field = { $label }:
