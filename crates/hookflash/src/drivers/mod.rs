//! The built-in drivers, each behind its cargo feature, and [`open`], which builds the right one
//! for a link URL.

use hookflash_core::model::LinkId;
use hookflash_link::url::{LinkUrl, Protocol};

use crate::{Error, spi::Driver};

/// Builds the built-in driver for `url`, naming the link `link`.
///
/// [`Error::Unsupported`] when the protocol's driver is not compiled in (or does not exist yet).
pub fn open(link: LinkId, url: &LinkUrl) -> Result<Box<dyn Driver>, Error> {
    let _ = link;
    match url.protocol {
        Protocol::CstaBer | Protocol::CstaXml | Protocol::Ami | Protocol::Smdr => {
            Err(Error::Unsupported)
        }
        _ => Err(Error::Unsupported),
    }
}
