//! Any bytes: event, error and push-config decoders never panic, in JSON or msgpack.
#![no_main]

use elemental::{EncodingType, Errors, Event, PushConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for encoding in [EncodingType::Json, EncodingType::Msgpack] {
        if let Ok(event) = Event::decode(encoding, data) {
            let _ = event.encode(EncodingType::Json);
            let _ = event.encode(EncodingType::Msgpack);
        }
        let _ = elemental::decode::<Errors>(encoding, data);
        if let Ok(mut config) = elemental::decode::<PushConfig>(encoding, data) {
            let _ = config.parse_identity_filters();
        }
    }
});
