//! The TAPPaaS service catalog: one data file per service VM
//! (`catalog/<name>.toml`), checked as a whole, resolved into a deploy
//! order, and rendered into cloud-init user-data from the plan's facts.
//! Pure code and data: nothing here touches the machine except
//! `Catalog::load_dir` (reads files) and `Secrets` (the system's CSPRNG).
//! See docs/services.md.

#![forbid(unsafe_code)]

mod catalog;
mod context;
mod error;
mod load;
mod model;
mod render;
mod resolve;
mod secrets;

pub use catalog::Catalog;
pub use context::{place, Context, Placement, HOST_OFFSET};
pub use error::{Error, Problem};
pub use model::{
    AddDependant, Charset, Entry, GuestFile, Health, Pool, SecretSpec, SECRET_LENGTH, VMID_BASE,
    VMID_OPTIONAL,
};
pub use render::{
    container_image, render, render_add_dependant, render_all, DependantAction, HealthCheck,
    Rendered, CLOUD_CONFIG_HEADER,
};
pub use resolve::{resolve, Added, Resolved};
pub use secrets::Secrets;
