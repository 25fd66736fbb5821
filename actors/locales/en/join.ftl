# The join block hcal writes into invites (English: the reference every other language has the
# same messages and placeholders as).

# Heading of the block. $platform is the booked platform's display name ("Webex").
join-heading = Join { $platform } meeting
# Label of the web join link.
meeting-link = Meeting link
# Label of the video (SIP) address, for room devices and video systems.
video-address = Join by video address
# Label of the meeting number (access code).
meeting-number = Meeting number
# Label of the dial-in numbers.
dial-in = Dial in
# How a label introduces its value, e.g. "Meeting link: https://…"; hcal adds one space after it.
field = { $label }:

# The notice hcal writes instead of the block when it cannot add join details for a reason the
# organiser can fix; replaced by the block once it works.
# Heading of the notice.
notice-heading = hcal could not add meeting join details to this invite
# The keyword carries an unknown modifier (@webex:onetim).
notice-unknown-modifier = The text after the keyword's colon is not an action hcal knows. Use :myroom, :onetime or :space, or the keyword alone.
# The platform refused the organiser. $platform is its display name ("Webex").
notice-platform-refused = { $platform } did not give a meeting for you (no account, or it refused). Ask your administrator, then edit the invite.
# A one-time or space meeting was asked for a whole series.
notice-series-not-bookable = A meeting of its own cannot be booked for a whole series. Use the keyword without :onetime for the series' personal room.
# Last line of the notice.
notice-footer = This note is replaced by the join details once they can be added.
