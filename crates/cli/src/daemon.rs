//! The daemons this build holds, as the CLI uses them: `check-config`
//! checks a daemon's document, `up` parses its section and runs it
//! embedded. Both go through [`with`], the one place that maps a row of
//! the runtime's table (`hwc_ai_runtime::daemons`) to its crate's
//! [`Daemon`]; nothing else in the CLI names a daemon's config type.

use std::future::Future;
use std::marker::PhantomData;
use std::path::Path;
use std::pin::Pin;

use hwc_ai_runtime::config::Common;
use hwc_ai_runtime::{config, ConfigError, Context, Daemon, LogConfig, Validate};

/// Something done with one daemon's types: [`with`] calls `call::<D>()`
/// with the daemon it names. A generic call rather than a table of `fn`
/// pointers: `up` parses a section with the deserializer of its whole
/// document, a type only serde names, so an error keeps its full path
/// (`router.routes[0].targets`).
pub trait WithDaemon {
    type Output;
    fn call<D: Daemon + 'static>(self) -> Self::Output;
}

/// Does `job` with the daemon of this short name (a row of
/// `hwc_ai_runtime::daemons::ALL`); `None` for a name this build does not
/// hold. A new daemon is a row here.
pub fn with<J: WithDaemon>(name: &str, job: J) -> Option<J::Output> {
    Some(match name {
        "prober" => job.call::<hwc_ai_prober::Prober>(),
        "puller" => job.call::<hwc_ai_puller::PullerDaemon>(),
        "router" => job.call::<hwc_ai_router::ModelRouter>(),
        "mcp" => job.call::<hwc_ai_mcp::gateway::Gateway>(),
        "assistant" => job.call::<hwc_ai_assistant::Assistant>(),
        _ => return None,
    })
}

/// `check-config`: the daemon's document at a path, parsed and validated.
pub struct Check<'a>(pub &'a Path);

impl WithDaemon for Check<'_> {
    type Output = Result<(), ConfigError>;

    fn call<D: Daemon + 'static>(self) -> Self::Output {
        config::load::<D::Config>(self.0).map(drop)
    }
}

/// `up`: a section of its document, parsed as the daemon's config; `null`
/// is `None`, the daemon turned off.
pub struct Parse<'de, De: serde::Deserializer<'de>>(De, PhantomData<&'de ()>);

impl<'de, De: serde::Deserializer<'de>> Parse<'de, De> {
    pub fn new(deserializer: De) -> Self {
        Self(deserializer, PhantomData)
    }
}

impl<'de, De: serde::Deserializer<'de>> WithDaemon for Parse<'de, De> {
    type Output = Result<Option<Box<dyn Section>>, De::Error>;

    fn call<D: Daemon + 'static>(self) -> Self::Output {
        use serde::Deserialize;
        Ok(Option::<D::Config>::deserialize(self.0)?.map(Typed::<D>::boxed))
    }
}

/// A daemon's config, parsed, ready to be completed, validated and run
/// embedded (`hwc-ai up`), whichever daemon it is.
pub trait Section: Send {
    fn listen(&self) -> &str;
    fn log(&self) -> &LogConfig;
    fn complete(self: Box<Self>) -> Result<Box<dyn Section>, ConfigError>;
    fn validate(&self) -> Result<(), ConfigError>;
    /// Runs the daemon until `ctx.shutdown`, as its unit would.
    fn run(
        self: Box<Self>,
        ctx: Context,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
    /// The typed config, for tests that look inside it.
    #[cfg(test)]
    fn config(&self) -> &dyn std::any::Any;
}

/// `D`'s config as a [`Section`].
pub struct Typed<D: Daemon> {
    config: D::Config,
    daemon: PhantomData<fn() -> D>,
}

impl<D: Daemon> Typed<D> {
    pub fn boxed(config: D::Config) -> Box<dyn Section>
    where
        D: 'static,
    {
        Box::new(Self {
            config,
            daemon: PhantomData,
        })
    }
}

impl<D: Daemon + 'static> Section for Typed<D> {
    fn listen(&self) -> &str {
        self.config.listen()
    }

    fn log(&self) -> &LogConfig {
        self.config.log()
    }

    fn complete(self: Box<Self>) -> Result<Box<dyn Section>, ConfigError> {
        Ok(Self::boxed(self.config.complete()?))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.config.validate()
    }

    fn run(
        self: Box<Self>,
        ctx: Context,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> {
        Box::pin(D::run(self.config, ctx))
    }

    #[cfg(test)]
    fn config(&self) -> &dyn std::any::Any {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwc_ai_runtime::daemons;

    struct Name;

    impl WithDaemon for Name {
        type Output = &'static str;

        fn call<D: Daemon + 'static>(self) -> &'static str {
            D::NAME
        }
    }

    /// A daemon added to the runtime's table and not here is caught, and
    /// so is a row that runs another daemon than it names.
    #[test]
    fn every_row_of_the_table_is_its_own_daemon() {
        for d in daemons::ALL {
            assert_eq!(with(d.name, Name), Some(d.name));
        }
        assert_eq!(with("nonesuch", Name), None);
    }
}
