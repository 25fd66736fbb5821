//! Detection throughput on a corpus of realistic invite bodies, against a baseline that tries
//! each platform's regex in turn over the same extracted text and links (how most detectors are
//! written). Criterion reports each; the summary printed at the end gives MB/s per core and the
//! ratio, measured in the same run.
//!
//! Run: `cargo bench -p hcal-actors --bench detect`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use hcal_actors::detect::{self, html, platforms};
use regex::Regex;

fn outlook(inner: &str) -> String {
    format!(
        r##"<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)"><style><!--
/* Font Definitions */
@font-face {{font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;}}
@font-face {{font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}}
@font-face {{font-family:"Segoe UI"; panose-1:2 11 5 2 4 2 4 2 2 3;}}
/* Style Definitions */
p.MsoNormal, li.MsoNormal, div.MsoNormal {{margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;}}
a:link, span.MsoHyperlink {{mso-style-priority:99; color:#0563C1; text-decoration:underline;}}
span.EmailStyle17 {{mso-style-type:personal-compose; font-family:"Calibri",sans-serif; color:windowtext;}}
.MsoChpDefault {{mso-style-type:export-only; font-family:"Calibri",sans-serif;}}
@page WordSection1 {{size:612.0pt 792.0pt; margin:72.0pt 72.0pt 72.0pt 72.0pt;}}
div.WordSection1 {{page:WordSection1;}}
--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]--><!--[if gte mso 9]><xml><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="1" /></o:shapelayout></xml><![endif]--></head><body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word"><div class="WordSection1"><p class="MsoNormal">Hi all,<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Please find the agenda for our review below. We will go through the quarterly numbers, the hiring plan and the roadmap for the next two quarters. Bring your questions.<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>{inner}</div></body></html>"##
    )
}

const TEAMS_URL: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ5ZTY4YjktNzI2Zi00ODk4LWI4ZjAtYzU4OGE2Y2I2MjE2%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22d5e3b2a1-1c2d-4e5f-8a9b-0c1d2e3f4a5b%22%7d";

fn teams(href: &str) -> String {
    outlook(&format!(
        r#"<div><p class="MsoNormal"><span style="color:#5F5F5F">________________________________________________________________________________</span></p><div style="margin-top:.25in;margin-bottom:.25in"><p class="MsoNormal"><b><span style="font-size:18.0pt;font-family:&quot;Segoe UI&quot;,sans-serif;color:#242424">Microsoft Teams meeting</span></b></p><p class="MsoNormal"><b><span style="font-size:10.5pt;font-family:&quot;Segoe UI&quot;,sans-serif;color:#242424">Join on your computer, mobile app or room device</span></b></p><p class="MsoNormal"><a href="{href}" target="_blank"><span style="font-size:10.5pt;font-family:&quot;Segoe UI Semibold&quot;,sans-serif;color:#5B5FC7">Click here to join the meeting</span></a></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#616161">Meeting ID: </span><span style="font-size:10.5pt;color:#242424">234&nbsp;567&nbsp;890&nbsp;123&nbsp;4</span><br><span style="font-size:10.5pt;color:#616161">Passcode: </span><span style="font-size:10.5pt;color:#242424">aB3cD4</span></p><p class="MsoNormal"><a href="https://www.microsoft.com/en-us/microsoft-teams/download-app"><span style="font-size:10.5pt;color:#5B5FC7">Download Teams</span></a> | <a href="https://www.microsoft.com/microsoft-teams/join-a-meeting"><span style="font-size:10.5pt;color:#5B5FC7">Join on the web</span></a></p></div><div><p class="MsoNormal"><b><span style="font-size:10.5pt;color:#242424">Join with a video conferencing device</span></b></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#242424">teams@vc.contoso.com</span></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#616161">Video Conference ID: </span><span style="font-size:10.5pt;color:#242424">123 456 789 0</span></p><p class="MsoNormal"><a href="https://dialin.plcm.vc/teams/?key=contoso&amp;conf=1234567890"><span style="font-size:10.5pt;color:#5B5FC7">Alternate VTC instructions</span></a></p></div><div><p class="MsoNormal"><b><span style="font-size:10.5pt;color:#242424">Or call in (audio only)</span></b></p><p class="MsoNormal"><a href="tel:+14255550100,,123456789#"><span style="font-size:10.5pt;color:#5B5FC7">+1 425-555-0100,,123456789#</span></a><span style="font-size:10.5pt;color:#242424"> United States, Seattle</span></p><p class="MsoNormal"><span style="font-size:10.5pt;color:#242424">Phone Conference ID: 123 456 789#</span></p><p class="MsoNormal"><a href="https://dialin.teams.microsoft.com/8551f4c1?id=123456789"><span style="font-size:10.5pt;color:#5B5FC7">Find a local number</span></a> | <a href="https://dialin.teams.microsoft.com/usp/pstnconferencing"><span style="font-size:10.5pt;color:#5B5FC7">Reset PIN</span></a></p></div><div><p class="MsoNormal"><a href="https://aka.ms/JoinTeamsMeeting?omkt=en-US"><span style="font-size:10.5pt;color:#5B5FC7">Learn More</span></a> | <a href="https://teams.microsoft.com/meetingOptions/?organizerId=d5e3b2a1&amp;tenantId=72f988bf&amp;threadId=19_meeting_NjQ5@thread.v2&amp;messageId=0&amp;language=en-US"><span style="font-size:10.5pt;color:#5B5FC7">Meeting options</span></a></p></div><p class="MsoNormal"><span style="color:#5F5F5F">________________________________________________________________________________</span></p></div>"#
    ))
}

fn zoom() -> String {
    outlook(
        r#"<p class="MsoNormal">Alex Kim is inviting you to a scheduled Zoom meeting.</p><p class="MsoNormal">Join Zoom Meeting<br><a href="https://us02web.zoom.us/j/85123456789?pwd=bXlQd0RHb1ZpcHhvZ3lXQ3R1dz09">https://us02web.zoom.us/j/85123456789?pwd=bXlQd0RHb1ZpcHhvZ3lXQ3R1dz09</a></p><p class="MsoNormal">Meeting ID: 851 2345 6789<br>Passcode: 472913</p><p class="MsoNormal">---<br>One tap mobile<br>+13126266799,,85123456789#,,,,*472913# US (Chicago)<br>+16465588656,,85123456789#,,,,*472913# US (New York)</p><p class="MsoNormal">---<br>Dial by your location<br>&bull; +1 312 626 6799 US (Chicago)<br>&bull; +1 646 558 8656 US (New York)<br>&bull; +1 301 715 8592 US (Washington DC)<br>Find your local number: <a href="https://us02web.zoom.us/u/kdqL5Yz8Tb">https://us02web.zoom.us/u/kdqL5Yz8Tb</a></p><p class="MsoNormal">---<br>Join by SIP<br>&bull; <a href="mailto:85123456789@zoomcrc.com">85123456789@zoomcrc.com</a></p><p class="MsoNormal">---<br>Join by H.323<br>&bull; 162.255.37.11 (US West)<br>&bull; 162.255.36.11 (US East)<br>Meeting ID: 851 2345 6789<br>Passcode: 472913</p>"#,
    )
}

fn google() -> String {
    r#"<p>Weekly sync of the platform team. Notes doc linked in the channel.</p><br>-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-<br>Join with Google Meet: <a href="https://www.google.com/url?q=https://meet.google.com/abc-defg-hij&amp;sa=D&amp;source=calendar&amp;usg=AOvVaw0">https://meet.google.com/abc-defg-hij</a><br><br>Join by phone<br>(US) <a href="tel:+1-234-567-8901;123456789#">+1 234-567-8901</a> PIN: 123 456 789#<br><br>More phone numbers: <a href="https://tel.meet/abc-defg-hij?pin=1234567890123">https://tel.meet/abc-defg-hij?pin=1234567890123</a><br><br>Learn more about Meet at: <a href="https://support.google.com/a/users/answer/9282720">https://support.google.com/a/users/answer/9282720</a><br><br>Please do not edit this section.<br>-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-"#.to_owned()
}

fn webex() -> String {
    outlook(
        r#"<table width="747" style="width:448.2pt"><tr><td><p class="MsoNormal"><span style="font-size:10.5pt;font-family:Arial;color:#333333">When it's time, join the Webex meeting here.</span></p><p class="MsoNormal"><a href="https://acme.webex.com/acme/j.php?MTID=m4c0f8f6c3a1d1e5b7e9a2c4d6f8b0a1c"><b><span style="font-size:13.5pt;color:white;background:#00823B">Join meeting</span></b></a></p><p class="MsoNormal"><b>More ways to join:</b></p><p class="MsoNormal"><b>Join from the meeting link</b><br><a href="https://acme.webex.com/acme/j.php?MTID=m4c0f8f6c3a1d1e5b7e9a2c4d6f8b0a1c">https://acme.webex.com/acme/j.php?MTID=m4c0f8f6c3a1d1e5b7e9a2c4d6f8b0a1c</a></p><p class="MsoNormal"><b>Join by meeting number</b><br>Meeting number (access code): 2550 123 4567<br>Meeting password: Xy7pQ2mR (99770207 when dialing from a phone or video system)</p><p class="MsoNormal"><b>Tap to join from a mobile device (attendees only)</b><br><a href="tel:%2B1-415-655-0001,,25501234567%23%2C%2C%2C%2C*99770207%23">+1-415-655-0001,,25501234567#,,,,*99770207#</a> US Toll</p><p class="MsoNormal"><b>Join by video system</b><br>Dial <a href="sip:25501234567@acme.webex.com">25501234567@acme.webex.com</a><br>You can also dial 173.243.2.68 and enter your meeting number.</p><p class="MsoNormal">Need help? Go to <a href="https://help.webex.com">https://help.webex.com</a></p></td></tr></table>"#,
    )
}

fn thread() -> String {
    // A long reply chain with no meeting at all: most invites by volume carry prose.
    let para = r#"<p class="MsoNormal">Thanks &mdash; as discussed, the numbers for Q3 look better than forecast; see the dashboard at <a href="https://contoso.sharepoint.com/sites/finance/Shared%20Documents/Q3.xlsx?web=1">Q3.xlsx</a>. Let&#8217;s keep the review on the calendar and invite alice@contoso.com and bob@contoso.com.<o:p></o:p></p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Carol &lt;carol@contoso.com&gt;<br><b>Sent:</b> Monday, 30 November 2026 10:12<br><b>Subject:</b> RE: Quarterly review<o:p></o:p></p></div>"#;
    outlook(&para.repeat(12))
}

fn corpus() -> Vec<String> {
    let safe = format!(
        "https://nam12.safelinks.protection.outlook.com/?url={}&amp;data=05%7C02%7Calice%40contoso.com%7C5b1%7C0%7C638%7CUnknown&amp;sdata=q1w2e3r4%3D&amp;reserved=0",
        url::form_urlencoded::byte_serialize(TEAMS_URL.as_bytes()).collect::<String>()
    );
    vec![teams(&TEAMS_URL.replace('&', "&amp;")), teams(&safe), zoom(), google(), webex(), thread()]
}

struct Baseline {
    regexes: Vec<(&'static str, Regex)>,
}

impl Baseline {
    fn new() -> Self {
        let regexes = platforms::baseline_patterns()
            .into_iter()
            .filter_map(|(id, re)| Regex::new(&re).ok().map(|r| (id, r)))
            .collect();
        Self { regexes }
    }

    /// Each platform's regex in turn over the text, then over every link target.
    fn detect(&self, body: &str) -> Option<(&'static str, String)> {
        let page = html::extract(body);
        let mut best: Option<(usize, &'static str, String)> = None;
        for (id, re) in &self.regexes {
            let hit = re
                .find(&page.text)
                .map(|m| (m.start(), m.as_str().to_owned()))
                .or_else(|| page.links.iter().find_map(|l| re.find(&l.href).map(|m| (l.at, m.as_str().to_owned()))));
            if let Some((at, url)) = hit
                && best.as_ref().is_none_or(|(b, _, _)| at < *b)
            {
                best = Some((at, id, url));
            }
        }
        best.map(|(_, id, url)| (id, url))
    }
}

fn engine(corpus: &[String], keywords: &[String]) -> usize {
    corpus.iter().map(|b| usize::from(detect::detect("Conference Room 4", b, None, keywords).join.is_some())).sum()
}

fn baseline(corpus: &[String], b: &Baseline) -> usize {
    corpus.iter().map(|body| usize::from(b.detect(body).is_some())).sum()
}

/// Seconds per pass over the corpus of each of `a` and `b`, measured in alternating blocks of
/// passes for about `budget`, so that both see the same machine (other load on it shifts both,
/// not the ratio) while each block runs with warm caches.
fn time_alternately(budget: Duration, mut a: impl FnMut() -> usize, mut b: impl FnMut() -> usize) -> (f64, f64) {
    let (mut ta, mut tb, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
    let start = Instant::now();
    while start.elapsed() < budget {
        const BLOCK: u32 = 100;
        let t = Instant::now();
        for _ in 0..BLOCK {
            black_box(a());
        }
        ta += t.elapsed();
        let t = Instant::now();
        for _ in 0..BLOCK {
            black_box(b());
        }
        tb += t.elapsed();
        n += BLOCK;
    }
    (ta.as_secs_f64() / f64::from(n), tb.as_secs_f64() / f64::from(n))
}

fn main() {
    let corpus = corpus();
    let bytes: usize = corpus.iter().map(String::len).sum();
    let keywords = vec!["webex".to_owned(), "meet".to_owned()];
    let base = Baseline::new();
    detect::warm_up();
    assert_eq!(engine(&corpus, &keywords), 5, "the engine finds the five meetings of the corpus");

    let mut c = Criterion::default().configure_from_args().warm_up_time(Duration::from_secs(2));
    {
        let mut group = c.benchmark_group("detect");
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("engine", |b| b.iter(|| engine(black_box(&corpus), &keywords)));
        group.bench_function("baseline_each_regex_in_turn", |b| b.iter(|| baseline(black_box(&corpus), &base)));
        group.bench_function("html_extract_only", |b| {
            b.iter(|| corpus.iter().map(|h| html::extract(black_box(h)).text.len()).sum::<usize>())
        });
        group.finish();
    }
    c.final_summary();

    // The same-run comparison BENCHMARKS.md records.
    let (t_engine, t_base) =
        time_alternately(Duration::from_secs(10), || engine(&corpus, &keywords), || baseline(&corpus, &base));
    let mbs = |t: f64| bytes as f64 / t / 1e6;
    println!("corpus: {} bodies, {bytes} bytes", corpus.len());
    println!("engine:   {:>8.1} MB/s (single thread)", mbs(t_engine));
    println!("baseline: {:>8.1} MB/s (single thread, {} platform regexes in turn)", mbs(t_base), base.regexes.len());
    println!("ratio engine/baseline: {:.1}x", t_base / t_engine);
}
