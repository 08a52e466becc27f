//! Properties of whole sessions: chunking never matters, hostile bytes never panic.

use pop3_proto::Event;
use pop3_proto::fuzzing::{response_reader, session_events};
use proptest::prelude::*;

const TRANSCRIPT: &[u8] = b"+OK 2 320\r\n+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n+OK 1 120\r\n\
+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n\
+OK 120 octets\r\nSubject: x\r\n\r\n..dot\r\n+OK\r\n-ERR\r\n.\r\n+OK\r\nSubject: x\r\n\r\n.\r\n\
+OK\r\nen English\r\n.\r\n-ERR [SYS/TEMP] cannot\r\n+OK\r\n+OK\r\n+OK bye\r\n";

#[test]
fn the_transcript_is_a_complete_clean_session() {
    let (events, error) = session_events(&[TRANSCRIPT]);
    assert_eq!(error, None);
    assert!(matches!(
        events.last(),
        Some(Event::Closed {
            committed: true,
            ..
        })
    ));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::MessageEnd { .. }))
            .count(),
        2
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_chunking_of_a_server_transcript_gives_identical_events(
        cuts in proptest::collection::vec(any::<u8>(), 0..40)
    ) {
        response_reader(TRANSCRIPT, &cuts);
    }

    #[test]
    fn arbitrary_server_bytes_never_panic_and_chunking_does_not_matter(
        data in proptest::collection::vec(
            prop_oneof![
                Just(b"+OK ".to_vec()), Just(b"-ERR ".to_vec()), Just(b"\r\n".to_vec()),
                Just(b".\r\n".to_vec()), Just(b"\n".to_vec()), Just(b"..".to_vec()),
                Just(b"1 23\r\n".to_vec()), Just(b"[IN-USE]".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..8)
            ], 0..60),
        cuts in proptest::collection::vec(any::<u8>(), 0..10),
    ) {
        let data: Vec<u8> = data.concat();
        response_reader(&data, &cuts);
    }
}
