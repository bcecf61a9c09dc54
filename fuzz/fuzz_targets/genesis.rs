//! Genesis and application files (genesis/src): selector 0 a genesis document
//! (`Genesis::from_json`, every check `tally-node` runs on its genesis file), 1 an application
//! to join a consortium (parsed as `Application::load` parses it, then verified), 2 a genesis
//! draft (parsed as `Draft::load` parses it, then finalized into a genesis).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_fuzz::select;
use tally_genesis::Genesis;
use tally_genesis::application::{Application, Draft};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = select(data, 3) else { return };
    let Ok(text) = std::str::from_utf8(body) else { return };
    match selector {
        0 => match Genesis::from_json(text) {
            Ok(genesis) => {
                let _ = genesis.hash();
                let _ = genesis.validator_set();
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        },
        1 => {
            if let Ok(application) = serde_json::from_str::<Application>(text) {
                let _ = application.verify(&application.body.chain_id.clone());
                let _ = application.to_json_pretty();
            }
        }
        _ => {
            if let Ok(draft) = serde_json::from_str::<Draft>(text) {
                let _ = draft.finalize(1_764_806_400_000);
                let _ = draft.to_json_pretty();
            }
        }
    }
});
