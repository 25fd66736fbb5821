# hcal が招待に書き込む参加情報（日本語）。

join-heading = { $platform } ミーティングに参加
meeting-link = ミーティングのリンク
video-address = ビデオアドレスで参加
meeting-number = ミーティング番号
dial-in = 電話で参加
field = { $label }:

notice-heading = hcal はこの招待に会議の参加情報を追加できませんでした
notice-unknown-modifier = キーワードのコロンの後のテキストは hcal が認識できる操作ではありません。:myroom、:onetime、:space のいずれかを使うか、キーワードだけを入力してください。
notice-platform-refused = { $platform } で会議を用意できませんでした (アカウントがないか、拒否されました)。管理者に確認してから招待を編集してください。
notice-series-not-bookable = 定期的な会議全体に個別の会議を予約することはできません。定期的な会議には :onetime を付けずにキーワードを使ってください。
notice-footer = 参加情報を追加できるようになると、このメモは参加情報に置き換わります。
