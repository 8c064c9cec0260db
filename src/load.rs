//! The whole pipeline in one call: text → AST → checked model → constraints
//! → indexes → [`Snapshot`]. All-or-nothing: a policy with any error loads
//! nothing and reports every error found.

use crate::compile;
use crate::compile::ids::NodeId;
use crate::compile::limits::{too_deep, MAX_DEPTH};
pub use crate::compile::limits::{Limits, MAX_FILE_BYTES};
use crate::error::{Code, Diagnostic, Error, LoadError};
use crate::eval::{constraints, index::Index, snapshot::Snapshot};
use crate::source::Sources;
use crate::syntax;
use crate::syntax::ast::PolicyFile;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Snapshot {
    /// Loads a policy from files and directories (a directory contributes its
    /// `*.policy` files, sorted by name).
    pub fn from_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Snapshot, Error> {
        Ok(Snapshot::from_sources(read_paths(paths)?)?)
    }

    /// Loads a policy from files and directories, with facts from JSON files
    /// (see [`crate::facts`]).
    pub fn from_paths_with_data<P: AsRef<Path>, D: AsRef<Path>>(
        paths: &[P],
        data: &[D],
    ) -> Result<Snapshot, Error> {
        let mut sources = read_paths(paths)?;
        read_data(data, &mut sources)?;
        Ok(Snapshot::from_sources(sources)?)
    }

    /// Loads a policy from one string; `name` is what errors and explanations
    /// call the file.
    ///
    /// ```
    /// let snapshot = grantlog::Snapshot::from_text("inline.policy", r#"
    ///     type workspace
    ///     action app.use
    ///     role member on workspace { app.use }
    ///     workspace w
    ///     user alice
    ///     assign member on workspace:w to alice
    /// "#).unwrap();
    /// assert!(snapshot.check("alice", "app.use", "workspace:w").is_allowed());
    /// assert!(!snapshot.check("bob", "app.use", "workspace:w").is_allowed());
    /// ```
    pub fn from_text(name: &str, text: &str) -> Result<Snapshot, LoadError> {
        let mut sources = Sources::default();
        sources.add(name, text);
        Snapshot::from_sources(sources)
    }

    /// Loads a policy made of several named texts, within the default
    /// [`Limits`].
    pub fn from_sources(sources: Sources) -> Result<Snapshot, LoadError> {
        Snapshot::from_sources_with(sources, &Limits::default())
    }

    /// Loads a policy made of several named texts, within `limits`.
    pub fn from_sources_with(sources: Sources, limits: &Limits) -> Result<Snapshot, LoadError> {
        let files = match parse_sources(&sources, limits) {
            Ok(files) => files,
            Err(errors) => return Err(LoadError::new(sources, errors)),
        };
        Snapshot::from_parsed(sources, &files, limits)
    }

    /// Checks, constrains and indexes already parsed files (one per source,
    /// in order).
    pub(crate) fn from_parsed(
        sources: Sources,
        files: &[Arc<PolicyFile>],
        limits: &Limits,
    ) -> Result<Snapshot, LoadError> {
        let statements: usize = files.iter().map(|f| f.items.len()).sum();
        if statements > limits.max_facts {
            let d = Diagnostic::global(
                Code::Limit,
                format!(
                    "the policy has {statements} statements; the limit is {}",
                    limits.max_facts
                ),
            )
            .help("raise `Limits::max_facts` if this size is expected");
            return Err(LoadError::new(sources, vec![d]));
        }
        let model = compile::check(sources, files).map_err(|(s, e)| LoadError::new(s, e))?;
        // The checker holds nesting to [`MAX_DEPTH`]; a lower limit is
        // checked here.
        if limits.depth() < MAX_DEPTH {
            let nodes = (0..model.nodes.len() as u32).map(NodeId);
            if let Some(d) = too_deep(&model, nodes, limits.depth()) {
                return Err(LoadError::new(model.sources.clone(), vec![d]));
            }
        }
        let violations = constraints::check(&model);
        if !violations.is_empty() {
            return Err(LoadError::new(model.sources.clone(), violations));
        }
        let index =
            Index::new(&model).map_err(|d| LoadError::new(model.sources.clone(), vec![d]))?;
        Ok(Snapshot::new(model, index))
    }
}

/// Parses every source, within the file size limit; all errors or all files.
pub(crate) fn parse_sources(
    sources: &Sources,
    limits: &Limits,
) -> Result<Vec<Arc<PolicyFile>>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (id, file) in sources.iter() {
        if file.lowered().is_none() && file.text.len() > limits.max_file_bytes {
            errors.push(
                Diagnostic::global(
                    Code::Limit,
                    format!(
                        "`{}` is {} bytes; the limit is {}",
                        file.name,
                        file.text.len(),
                        limits.max_file_bytes
                    ),
                )
                .help("split the policy into several files, or raise `Limits::max_file_bytes`"),
            );
            continue;
        }
        if let Some(lowered) = file.lowered() {
            files.push(Arc::clone(lowered));
            continue;
        }
        match syntax::parse(id, &file.text) {
            Ok(f) => files.push(Arc::new(f)),
            Err(d) => errors.push(d),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

/// Reads files and directories into a source set.
pub fn read_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Sources, Error> {
    let mut sources = Sources::default();
    for path in paths {
        for file in expand(path.as_ref())? {
            let bytes = read_bounded(&file, MAX_FILE_BYTES)?;
            let text = String::from_utf8(bytes).map_err(|e| {
                let at = e.utf8_error().valid_up_to();
                let before = &e.as_bytes()[..at];
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                let column = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
                Error::Io {
                    path: file.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "not UTF-8 text: invalid byte at line {line}, column {column} (byte offset {at}); save the file as UTF-8"
                        ),
                    ),
                }
            })?;
            sources.add(file.display().to_string(), text);
        }
    }
    Ok(sources)
}

/// Reads JSON fact files into a source set, one source per fact.
pub fn read_data<P: AsRef<Path>>(paths: &[P], sources: &mut Sources) -> Result<(), Error> {
    for path in paths {
        let path = path.as_ref();
        let bytes = read_bounded(path, MAX_FILE_BYTES)?;
        let name = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| Error::Io {
            path: name.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        crate::facts::Facts::from_json(&name, &text)?.add_to(&name, sources)?;
    }
    Ok(())
}

/// The bytes of `path`, at most `limit` of them: the limit is checked while
/// reading, so that a device or a huge file is refused after `limit` bytes,
/// not read whole.
pub fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > limit {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes, the most a policy or facts file may hold; split it into several files"),
        )));
    }
    Ok(bytes)
}

fn expand(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "policy"))
        .collect();
    files.sort();
    Ok(files)
}
