//! The built-in drivers, each behind its cargo feature, and [`open`], which builds the right one
//! for a link URL.

#[cfg(feature = "ami")]
pub mod ami;
#[cfg(feature = "csta")]
pub mod csta;
#[cfg(feature = "smdr")]
pub mod smdr;

use hookflash_core::model::LinkId;
use hookflash_link::url::{LinkUrl, Protocol};

use crate::{Error, spi::Driver};

/// Builds the built-in driver for `url`, naming the link `link`.
///
/// [`Error::Unsupported`] when the protocol's driver is not compiled in.
pub fn open(link: LinkId, url: &LinkUrl) -> Result<Box<dyn Driver>, Error> {
    match url.protocol {
        #[cfg(feature = "ami")]
        Protocol::Ami => Ok(Box::new(ami::AmiDriver::new(link, url)?)),
        #[cfg(feature = "smdr")]
        Protocol::Smdr => Ok(Box::new(smdr::SmdrDriver::new(link, url)?)),
        #[cfg(feature = "csta")]
        Protocol::CstaBer | Protocol::CstaXml => Ok(Box::new(csta::CstaDriver::new(link, url)?)),
        _ => Err(Error::Unsupported),
    }
}
