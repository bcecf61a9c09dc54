//! Evidence from a node over HTTP: every answer is checked by the caller, nothing trusted.
//! The validator sets of later epochs come from `GET /v1/epochs` ([`NodeSource::epochs`]) and
//! are trusted only once [`Trust::follow_epochs`] has walked them from the genesis set.

use super::*;

/// Evidence from a node's HTTP API.
pub struct NodeSource {
    client: NodeClient,
}

impl NodeSource {
    pub fn new(client: NodeClient) -> Self {
        NodeSource { client }
    }

    /// `GET path?format=borsh`, decoded strictly (oversize, trailing or non-canonical bytes
    /// refused), `None` on 404.
    fn canonical<T>(
        &self,
        path: &str,
        decode: fn(&[u8]) -> Result<T, tally_types::DecodeError>,
    ) -> Result<Option<T>, ProofError> {
        let Some(bytes) = self.client.get_canonical(path)? else { return Ok(None) };
        decode(&bytes).map(Some).map_err(|error| ProofError::Malformed {
            what: format!("the answer of {}{path}?format=borsh", self.client.base_url()),
            reason: format!("is not the canonical bytes asked for: {error}"),
        })
    }

    /// `GET path`, `None` on 404.
    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ProofError> {
        match self.client.get_json(path) {
            Ok(value) => serde_json::from_value(value).map(Some).map_err(|error| ProofError::Malformed {
                what: format!("the answer of {}{path}", self.client.base_url()),
                reason: format!("is not what was asked for: {error}"),
            }),
            Err(HttpError::Problem { status: 404, .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

#[derive(Deserialize)]
struct EpochsAnswer {
    epochs: Vec<EpochStep>,
    next: Option<u64>,
}

/// The most pages of `GET /v1/epochs` followed (each up to 32 epochs).
pub const EPOCH_PAGES_MAX: usize = 1_000;

impl NodeSource {
    /// The chain of trust through the epochs, every page of `GET /v1/epochs`; checked by
    /// [`Trust::follow_epochs`], not here. A node without the route answers none (its blocks
    /// of later epochs are then refused by height and epoch).
    pub fn epochs(&self) -> Result<Vec<EpochStep>, ProofError> {
        let mut steps = Vec::new();
        let mut after = 0u64;
        for _ in 0..EPOCH_PAGES_MAX {
            let Some(page) = self.get::<EpochsAnswer>(&format!("/v1/epochs?after={after}"))? else {
                return Ok(steps);
            };
            steps.extend(page.epochs);
            match page.next {
                Some(next) if next > after => after = next,
                _ => return Ok(steps),
            }
        }
        Ok(steps)
    }
}

impl ChainSource for NodeSource {
    fn block(&mut self, height: Height) -> Result<Option<Block>, ProofError> {
        self.canonical(&format!("/v1/blocks/{height}"), tally_types::decode::<Block>)
    }

    fn certificate(&mut self, height: Height) -> Result<Option<Certificate>, ProofError> {
        self.canonical(&format!("/v1/blocks/{height}/certificate"), tally_types::decode::<Certificate>)
    }

    fn tx(&mut self, id: &TxId) -> Result<Option<TxEvidence>, ProofError> {
        self.get(&format!("/v1/txs/{id}/receipt"))
    }

    fn state(&mut self, key: &StateKey) -> Result<StateEvidence, ProofError> {
        self.get(&format!("/v1/state/proof?key={}", hex::encode(key.to_bytes())))?
            .ok_or(ProofError::Unsupported { route: "state proof" })
    }

    fn badge(&mut self, badge_hash: &Hash, root: &Hash) -> Result<BadgeEvidence, ProofError> {
        self.get(&format!("/v1/badges/{badge_hash}?root={root}"))?
            .ok_or(ProofError::Unsupported { route: "badge" })
    }
}
