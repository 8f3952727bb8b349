//! Legion's connections to the outside world, each behind one of the engine's traits.
pub mod aws;
pub mod callback;
pub mod config;
pub mod http;
pub mod lambda;
pub mod limits;
pub mod mock;
pub mod nested;
pub mod openfaas;
pub mod router;
pub mod routing;
pub mod s3;

pub use config::Config;
pub use router::{Router, RouterBuilder, RouterError};
