# hcal이 초대에 작성하는 참가 정보(한국어).

join-heading = { $platform } 회의 참가
meeting-link = 회의 링크
video-address = 비디오 주소로 참가
meeting-number = 회의 번호
dial-in = 전화로 참가
field = { $label }:

notice-heading = hcal이 이 초대에 회의 참가 정보를 추가하지 못했습니다
notice-unknown-modifier = 키워드의 콜론 뒤 텍스트는 hcal이 아는 동작이 아닙니다. :myroom, :onetime 또는 :space를 쓰거나 키워드만 입력하세요.
notice-platform-refused = { $platform }에서 회의를 제공하지 않았습니다(계정이 없거나 거부됨). 관리자에게 문의한 뒤 초대를 수정하세요.
notice-series-not-bookable = 되풀이 일정 전체에 대해 별도의 회의를 예약할 수 없습니다. 되풀이 일정에는 :onetime 없이 키워드를 사용하세요.
notice-footer = 참가 정보를 추가할 수 있게 되면 이 안내는 참가 정보로 바뀝니다.
