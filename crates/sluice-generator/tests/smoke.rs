mod common;

#[test]
fn prints_some_events() {
    for d in common::DOMAINS {
        let mut g = common::generator(d, 1, 5);
        while let Some(e) = g.next_event() {
            println!("{}", e.to_json());
        }
        let s = g.generate_session();
        println!("session of {} events: {:?}", s.len(), s.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>());
        println!("rate {}", g.natural_rate());
    }
}
