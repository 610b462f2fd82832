//! Scenario text → AST. Every error names `file:line:column`.

use std::fmt;

use super::ast::*;

/// A scenario file that cannot be run, with the position of the offending text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Bounds on what a scenario may ask for.
pub const STEPS_MAX: usize = 10_000;
pub const SLEEP_MS_MAX: u64 = 3_600_000;
pub const ARGS_MAX: usize = 20_000;
pub const LATENCY_MS_MAX: u64 = 10_000;
pub const LOSS_PERCENT_MAX: u8 = 90;

/// A token of a line and the 1-based column where it starts.
#[derive(Debug)]
struct Token {
    text: String,
    column: usize,
    quoted: bool,
}

/// Splits a line into whitespace-separated tokens; `"..."` groups (with `\"` and `\\` escapes).
fn tokenize(line: &str) -> Result<Vec<Token>, (usize, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let column = i + 1;
        let mut text = String::new();
        let mut quoted = false;
        // A token is a run of non-space characters; a `"` opens a quoted section (spaces allowed) that may
        // start the token (`"CLUSTER NODES"`) or follow a key (`reply="ERR Unknown node x"`).
        while i < chars.len() && !chars[i].is_whitespace() {
            if chars[i] != '"' {
                text.push(chars[i]);
                i += 1;
                continue;
            }
            quoted = true;
            let open = i + 1;
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err((open, "unterminated quoted string".into())),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => match chars.get(i + 1) {
                        Some(c @ ('"' | '\\')) => {
                            text.push(*c);
                            i += 2;
                        }
                        _ => return Err((i + 1, "only \\\" and \\\\ escapes are allowed".into())),
                    },
                    Some(c) => {
                        text.push(*c);
                        i += 1;
                    }
                }
            }
            if chars.get(i).is_some_and(|c| !c.is_whitespace()) {
                return Err((i + 1, "a quoted string must be followed by a space".into()));
            }
        }
        tokens.push(Token { text, column, quoted });
    }
    Ok(tokens)
}

struct Ctx<'a> {
    file: &'a str,
    line: usize,
    nodes: usize,
}

impl Ctx<'_> {
    fn err(&self, column: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError { file: self.file.to_string(), line: self.line, column, message: message.into() }
    }

    fn target(&self, tok: &Token) -> Result<Target, ScenarioError> {
        if tok.text == "all" {
            return Ok(Target::All);
        }
        let node = self.node_name(&tok.text).ok_or_else(|| {
            self.err(tok.column, format!("expected a node (n1..n{}) or 'all', found '{}'", self.nodes, tok.text))
        })?;
        if node == 0 || node > self.nodes {
            return Err(
                self.err(tok.column, format!("node n{node} does not exist (the cluster has {} nodes)", self.nodes))
            );
        }
        Ok(Target::Node(node))
    }

    /// A single node (`n2`), never `all`.
    fn node(&self, tok: &Token) -> Result<usize, ScenarioError> {
        match self.target(tok)? {
            Target::Node(n) => Ok(n),
            Target::All => Err(self.err(tok.column, "this verb takes one node, not 'all'")),
        }
    }

    /// An error at the first token past `count`, if any.
    fn no_more(&self, tokens: &[Token], count: usize) -> Result<(), ScenarioError> {
        match tokens.get(count) {
            Some(tok) => Err(self.err(tok.column, format!("unexpected '{}'", tok.text))),
            None => Ok(()),
        }
    }

    fn node_name(&self, text: &str) -> Option<usize> {
        let digits = text.strip_prefix('n')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
            return None;
        }
        digits.parse().ok()
    }

    /// Parses one word; `column` is where its text starts on the line.
    fn word(&self, text: &str, column: usize) -> Result<Word, ScenarioError> {
        if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            if let Some((a, b)) = inner.split_once("..") {
                if !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()) {
                    let start: u32 = a.parse().map_err(|_| self.err(column, "range bound too large"))?;
                    let end: u32 = b.parse().map_err(|_| self.err(column, "range bound too large"))?;
                    if start > end {
                        return Err(self.err(column, format!("range {{{start}..{end}}} is empty")));
                    }
                    if (end - start) as usize >= ARGS_MAX {
                        return Err(self.err(
                            column,
                            format!("range {{{start}..{end}}} expands to more than {ARGS_MAX} arguments"),
                        ));
                    }
                    return Ok(Word::Range { start, end });
                }
            }
        }
        let mut pieces: Vec<Piece> = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while !rest.is_empty() {
            // A variable is `{n<digits>.<field>}`; any other brace is literal text (e.g. hash tags).
            let var = rest.find("{n").and_then(|start| {
                let close = rest[start..].find('}')? + start;
                let inner = &rest[start + 1..close];
                let (node, field) = inner.split_once('.')?;
                let node = self.node_name(node)?;
                Some((start, close, node, field.to_string()))
            });
            match var {
                Some((start, close, node, field_name)) => {
                    if start > 0 {
                        push_text(&mut pieces, &rest[..start]);
                    }
                    let col = column + offset + rest[..start].chars().count();
                    let field = Field::from_name(&field_name).ok_or_else(|| {
                        self.err(col, format!("unknown field '{field_name}' (expected ip, port, bus or id)"))
                    })?;
                    if node == 0 || node > self.nodes {
                        return Err(self
                            .err(col, format!("node n{node} does not exist (the cluster has {} nodes)", self.nodes)));
                    }
                    pieces.push(Piece::Var { node, field });
                    offset += rest[..=close].chars().count();
                    rest = &rest[close + 1..];
                }
                None => {
                    push_text(&mut pieces, rest);
                    rest = "";
                }
            }
        }
        Ok(Word::Pieces(pieces))
    }

    /// The words of a `call`'s command, one per token (a quoted token is a single word).
    fn words(&self, tokens: &[Token]) -> Result<Vec<Word>, ScenarioError> {
        let mut words = Vec::with_capacity(tokens.len());
        for t in tokens {
            words.push(self.word(&t.text, t.column + usize::from(t.quoted))?);
        }
        Ok(words)
    }

    /// The words of an `expect`'s quoted command, split on spaces.
    fn split_command(&self, tok: &Token) -> Result<Vec<Word>, ScenarioError> {
        let mut words = Vec::new();
        let mut column = tok.column + 1;
        for part in tok.text.split(' ') {
            if !part.is_empty() {
                words.push(self.word(part, column)?);
            }
            column += part.chars().count() + 1;
        }
        if words.is_empty() {
            return Err(self.err(tok.column, "empty command"));
        }
        Ok(words)
    }
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if let Some(Piece::Text(last)) = pieces.last_mut() {
        last.push_str(text);
    } else {
        pieces.push(Piece::Text(text.to_string()));
    }
}

/// Parses `500ms`, `2s`, `0ms`.
fn duration_ms(text: &str) -> Option<u64> {
    let (digits, scale) = if let Some(d) = text.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = text.strip_suffix('s') {
        (d, 1000)
    } else {
        return None;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 10 {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// One scenario verb: a row of [`VERBS`]. Adding a verb is one row and its handler.
struct Verb {
    name: &'static str,
    /// How the line is written, as docs/SCENARIOS.md shows it.
    usage: &'static str,
    /// The fewest tokens a line of this verb has (the verb included), and what a shorter line lacks:
    /// `'partition' needs at least two groups of nodes, ...`.
    tokens_min: usize,
    needs: &'static str,
    /// The `key=value` options it takes ([`Ctx::option`] checks them).
    options: &'static [&'static str],
    handler: fn(&Line<'_>) -> Result<Step, ScenarioError>,
}

/// Every verb but `cluster` (the header, parsed apart: it must come first, exactly once). The unknown-verb error
/// lists them in this order.
const VERBS: &[Verb] = &[
    Verb {
        name: "call",
        usage: "call <target> <word>...",
        tokens_min: 3,
        needs: "a target and a command",
        options: &[],
        handler: call,
    },
    Verb {
        name: "sleep",
        usage: "sleep <duration>",
        tokens_min: 2,
        needs: "a duration such as 500ms or 2s",
        options: &[],
        handler: sleep,
    },
    Verb {
        name: "expect",
        usage: "expect <target> \"<command>\" <check>=<value>",
        tokens_min: 4,
        needs: "a target, a quoted command and one check (key=value)",
        options: &[],
        handler: expect,
    },
    Verb { name: "kill", usage: "kill nK", tokens_min: 2, needs: "a node", options: &[], handler: kill },
    Verb { name: "restart", usage: "restart nK", tokens_min: 2, needs: "a node", options: &[], handler: restart },
    Verb { name: "pause", usage: "pause nK", tokens_min: 2, needs: "a node", options: &[], handler: pause },
    Verb { name: "resume", usage: "resume nK", tokens_min: 2, needs: "a node", options: &[], handler: resume },
    Verb {
        name: "partition",
        usage: "partition n1,n2 n3,n4,n5",
        tokens_min: 3,
        needs: "at least two groups of nodes, such as n1,n2 n3,n4,n5",
        options: &[],
        handler: partition,
    },
    Verb { name: "heal", usage: "heal", tokens_min: 1, needs: "", options: &[], handler: heal },
    Verb {
        name: "clog",
        usage: "clog nA->nB",
        tokens_min: 2,
        needs: "a link such as n1->n2",
        options: &[],
        handler: clog,
    },
    Verb {
        name: "unclog",
        usage: "unclog nA->nB",
        tokens_min: 2,
        needs: "a link such as n1->n2",
        options: &[],
        handler: unclog,
    },
    Verb {
        name: "latency",
        usage: "latency 10ms..200ms",
        tokens_min: 2,
        needs: "a range such as 10ms..200ms",
        options: &[],
        handler: latency,
    },
    Verb {
        name: "loss",
        usage: "loss 10%",
        tokens_min: 2,
        needs: "a percentage such as 10%",
        options: &[],
        handler: loss,
    },
    Verb {
        name: "wait-consistent",
        usage: "wait-consistent [within=<d>]",
        tokens_min: 1,
        needs: "",
        options: &["within"],
        handler: wait_consistent,
    },
    Verb {
        name: "settle",
        usage: "settle [within=<d>]",
        tokens_min: 1,
        needs: "",
        options: &["within"],
        handler: settle,
    },
    Verb {
        name: "workload",
        usage: "workload reads/writes/stop [every=<d>] [on=<target>] [ops=<op>,...] [slots=<a>-<b>]",
        tokens_min: 2,
        needs: "'reads ...', 'writes ...' or 'stop'",
        options: &["every", "on", "ops", "slots"],
        handler: workload,
    },
];

/// The options of the `cluster` header; `strict` is a bare keyword.
const HEADER_OPTIONS: &[&str] = &["strategy", "profile", "base-port", "drift", "strict"];

type CheckParser = fn(&Ctx<'_>, &str, usize) -> Result<Check, ScenarioError>;

/// The checks of an `expect` line (`key=value`): the key, and how its value (at a column) becomes the check.
const CHECKS: &[(&str, CheckParser)] = &[
    ("reply", |ctx, value, column| Ok(Check::Reply(ctx.word(value, column)?))),
    ("known-nodes", |ctx, value, column| {
        value.parse().map(Check::KnownNodes).map_err(|_| ctx.err(column, format!("expected a number, found '{value}'")))
    }),
    ("knows", |ctx, value, column| Ok(Check::Knows(ctx.word(value, column)?))),
    ("contains", |ctx, value, column| Ok(Check::Contains(ctx.word(value, column)?))),
];

/// `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

impl Ctx<'_> {
    /// A `key=value` token whose key must be one of `keys`: the key, the value and the value's column; `None`
    /// when the token has no `=`. The one place an option key is checked: an unknown key is an error that names
    /// every key (`unknown check 'nodes' (expected reply, known-nodes, knows or contains)`).
    fn option<'t>(
        &self,
        tok: &'t Token,
        noun: &str,
        keys: &[&'static str],
    ) -> Result<Option<(&'static str, &'t str, usize)>, ScenarioError> {
        let Some((key, value)) = tok.text.split_once('=') else { return Ok(None) };
        let Some(key) = keys.iter().copied().find(|k| *k == key) else {
            return Err(self.err(tok.column, format!("unknown {noun} '{key}' (expected {})", or_list(keys))));
        };
        Ok(Some((key, value, tok.column + key.chars().count() + 1)))
    }
}

/// The step verbs and their usage (`settle [within=<d>]`), in the order the unknown-verb error lists them.
pub fn verbs() -> impl Iterator<Item = (&'static str, &'static str)> {
    VERBS.iter().map(|v| (v.name, v.usage))
}

/// A step's line while its handler reads it: the tokens (the verb first) and the verb's row.
struct Line<'a> {
    ctx: &'a Ctx<'a>,
    verb: &'static Verb,
    tokens: &'a [Token],
}

/// Parses a scenario. `file` only labels errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let mut intro = Vec::new();
    let mut header: Option<Header> = None;
    let mut steps = Vec::new();
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let ctx = Ctx { file, line: index + 1, nodes: header.as_ref().map_or(0, |h| h.nodes) };
        let trimmed = raw.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.strip_prefix(' ').unwrap_or(comment).trim_end().to_string();
            if header.is_none() {
                intro.push(comment);
            } else {
                steps.push(Step::Comment(comment));
                lines.push(index + 1);
            }
            continue;
        }
        let tokens = tokenize(raw).map_err(|(column, message)| ctx.err(column, message))?;
        let verb = &tokens[0];
        if verb.quoted {
            return Err(ctx.err(verb.column, "a line starts with a verb, not a quoted string"));
        }
        if header.is_none() {
            if verb.text != "cluster" {
                return Err(ctx
                    .err(verb.column, format!("the first line must be 'cluster <nodes> ...', found '{}'", verb.text)));
            }
            header = Some(parse_header(&ctx, &tokens)?);
            continue;
        }
        if steps.len() >= STEPS_MAX {
            return Err(ctx.err(1, format!("more than {STEPS_MAX} steps")));
        }
        steps.push(parse_step(&ctx, &tokens, raw)?);
        lines.push(index + 1);
    }
    let header = header.ok_or_else(|| ScenarioError {
        file: file.to_string(),
        line: text.lines().count().max(1),
        column: 1,
        message: "no 'cluster <nodes>' line".into(),
    })?;
    Ok(Scenario { intro, header, steps, lines })
}

/// One step line (after the header): looks its verb up in [`VERBS`], checks it has enough tokens, and hands it
/// to the verb's handler.
fn parse_step(ctx: &Ctx<'_>, tokens: &[Token], raw: &str) -> Result<Step, ScenarioError> {
    let name = &tokens[0];
    if name.text == "cluster" {
        return Err(ctx.err(name.column, "'cluster' may appear only once, as the first line"));
    }
    let Some(verb) = VERBS.iter().find(|v| v.name == name.text) else {
        let names: Vec<&str> = VERBS.iter().map(|v| v.name).collect();
        return Err(
            ctx.err(name.column, format!("unknown verb '{}' (expected one of: {})", name.text, names.join(", ")))
        );
    };
    if tokens.len() < verb.tokens_min {
        let end = raw.trim_end().chars().count() + 1;
        return Err(ctx.err(end, format!("'{}' needs {}", verb.name, verb.needs)));
    }
    (verb.handler)(&Line { ctx, verb, tokens })
}

fn call(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let target = l.ctx.target(&l.tokens[1])?;
    let command = l.ctx.words(&l.tokens[2..])?;
    Ok(Step::Call { target, command })
}

fn sleep(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let (ctx, tok) = (l.ctx, &l.tokens[1]);
    let ms = duration_ms(&tok.text)
        .ok_or_else(|| ctx.err(tok.column, format!("expected a duration such as 500ms or 2s, found '{}'", tok.text)))?;
    if let Some(extra) = l.tokens.get(2) {
        return Err(ctx.err(extra.column, "unexpected text after the duration"));
    }
    if ms > SLEEP_MS_MAX {
        return Err(ctx.err(tok.column, format!("a sleep may last at most {SLEEP_MS_MAX} ms")));
    }
    Ok(Step::Sleep { ms })
}

fn expect(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let (ctx, tokens) = (l.ctx, l.tokens);
    let target = ctx.target(&tokens[1])?;
    if !tokens[2].quoted {
        return Err(ctx.err(tokens[2].column, "the command of an expect is quoted: \"CLUSTER NODES\""));
    }
    let command = ctx.split_command(&tokens[2])?;
    if let Some(extra) = tokens.get(4) {
        return Err(ctx.err(extra.column, "an expect has exactly one check"));
    }
    let check = parse_check(ctx, &tokens[3])?;
    Ok(Step::Expect { target, command, check })
}

fn parse_check(ctx: &Ctx<'_>, tok: &Token) -> Result<Check, ScenarioError> {
    let keys: Vec<&'static str> = CHECKS.iter().map(|(key, _)| *key).collect();
    let Some((key, value, value_col)) = ctx.option(tok, "check", &keys)? else {
        return Err(ctx.err(tok.column, format!("expected a check key=value, found '{}'", tok.text)));
    };
    let (_, parser) = CHECKS.iter().find(|(k, _)| *k == key).expect("option() returns a key of CHECKS");
    parser(ctx, value, value_col)
}

/// The one node of `kill`, `restart`, `pause` and `resume`, and nothing after it.
fn one_node(l: &Line<'_>) -> Result<usize, ScenarioError> {
    let node = l.ctx.node(&l.tokens[1])?;
    l.ctx.no_more(l.tokens, 2)?;
    Ok(node)
}

fn kill(l: &Line<'_>) -> Result<Step, ScenarioError> {
    Ok(Step::Fault(Fault::Kill(one_node(l)?)))
}

fn restart(l: &Line<'_>) -> Result<Step, ScenarioError> {
    Ok(Step::Fault(Fault::Restart(one_node(l)?)))
}

fn pause(l: &Line<'_>) -> Result<Step, ScenarioError> {
    Ok(Step::Fault(Fault::Pause(one_node(l)?)))
}

fn resume(l: &Line<'_>) -> Result<Step, ScenarioError> {
    Ok(Step::Fault(Fault::Resume(one_node(l)?)))
}

fn partition(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let ctx = l.ctx;
    let mut seen = vec![false; ctx.nodes + 1];
    let mut groups = Vec::new();
    for tok in &l.tokens[1..] {
        let mut group = Vec::new();
        let mut column = tok.column;
        for name in tok.text.split(',') {
            let node = ctx.node(&Token { text: name.to_string(), column, quoted: false })?;
            if std::mem::replace(&mut seen[node], true) {
                return Err(ctx.err(column, format!("n{node} is in more than one group")));
            }
            group.push(node);
            column += name.chars().count() + 1;
        }
        groups.push(group);
    }
    Ok(Step::Fault(Fault::Partition(groups)))
}

fn heal(l: &Line<'_>) -> Result<Step, ScenarioError> {
    l.ctx.no_more(l.tokens, 1)?;
    Ok(Step::Fault(Fault::Heal))
}

/// The link of `clog` and `unclog`: `(from, to)`, and nothing after it.
fn link(l: &Line<'_>) -> Result<(usize, usize), ScenarioError> {
    let (ctx, tok) = (l.ctx, &l.tokens[1]);
    let Some((a, b)) = tok.text.split_once("->") else {
        return Err(ctx.err(tok.column, format!("expected a link such as n1->n2, found '{}'", tok.text)));
    };
    let from = ctx.node(&Token { text: a.to_string(), column: tok.column, quoted: false })?;
    let to_col = tok.column + a.chars().count() + 2;
    let to = ctx.node(&Token { text: b.to_string(), column: to_col, quoted: false })?;
    if from == to {
        return Err(ctx.err(tok.column, "a link joins two different nodes"));
    }
    ctx.no_more(l.tokens, 2)?;
    Ok((from, to))
}

fn clog(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let (from, to) = link(l)?;
    Ok(Step::Fault(Fault::Clog { from, to }))
}

fn unclog(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let (from, to) = link(l)?;
    Ok(Step::Fault(Fault::Unclog { from, to }))
}

fn latency(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let (ctx, tok) = (l.ctx, &l.tokens[1]);
    let range = tok.text.split_once("..").and_then(|(a, b)| Some((duration_ms(a)?, duration_ms(b)?)));
    let Some((min_ms, max_ms)) = range.filter(|(a, b)| a < b && *b <= LATENCY_MS_MAX) else {
        return Err(ctx.err(
            tok.column,
            format!(
                "expected a latency range such as 10ms..200ms (at most {LATENCY_MS_MAX} ms, minimum below maximum), \
                 found '{}'",
                tok.text
            ),
        ));
    };
    ctx.no_more(l.tokens, 2)?;
    Ok(Step::Fault(Fault::Latency { min_ms, max_ms }))
}

fn loss(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let (ctx, tok) = (l.ctx, &l.tokens[1]);
    let percent = tok.text.strip_suffix('%').and_then(|d| d.parse::<u8>().ok()).filter(|p| *p <= LOSS_PERCENT_MAX);
    let Some(percent) = percent else {
        return Err(ctx.err(
            tok.column,
            format!("expected a loss such as 10% (0% to {LOSS_PERCENT_MAX}%), found '{}'", tok.text),
        ));
    };
    ctx.no_more(l.tokens, 2)?;
    Ok(Step::Fault(Fault::Loss { percent }))
}

fn wait_consistent(l: &Line<'_>) -> Result<Step, ScenarioError> {
    Ok(Step::WaitConsistent { within_ms: within_ms(l, Step::WAIT_CONSISTENT_DEFAULT_MS)? })
}

fn settle(l: &Line<'_>) -> Result<Step, ScenarioError> {
    Ok(Step::Settle { within_ms: within_ms(l, Step::SETTLE_DEFAULT_MS)? })
}

fn workload(l: &Line<'_>) -> Result<Step, ScenarioError> {
    let (ctx, kind) = (l.ctx, &l.tokens[1]);
    match kind.text.as_str() {
        "stop" => {
            ctx.no_more(l.tokens, 2)?;
            Ok(Step::Workload(Workload::Stop))
        }
        "reads" | "writes" => workload_start(l, kind.text == "writes"),
        other => Err(ctx.err(kind.column, format!("unknown workload '{other}' (expected reads, writes or stop)"))),
    }
}

/// `workload reads [every=<d>] [on=<target>] [ops=nodes,slots,shards]` or `workload writes [every=<d>]
/// [on=<target>] [ops=slots,meet] [slots=<a>-<b>]`; defaults: every=100ms, on=all, every op, the last 64 slots.
fn workload_start(l: &Line<'_>, writes: bool) -> Result<Step, ScenarioError> {
    let ctx = l.ctx;
    let (mut every_ms, mut on, mut reads, mut write_ops, mut slots) = (None, None, None, None, None);
    for tok in &l.tokens[2..] {
        let Some((key, value, column)) = ctx.option(tok, "workload option", l.verb.options)? else {
            return Err(ctx.err(tok.column, format!("expected key=value, found '{}'", tok.text)));
        };
        let seen = match key {
            "every" => every_ms.replace(workload_every(ctx, value, column)?).is_some(),
            "on" => on.replace(ctx.target(&Token { text: value.to_string(), column, quoted: false })?).is_some(),
            "ops" if writes => {
                write_ops.replace(named_list(ctx, value, column, &WriteOp::ALL, WriteOp::name)?).is_some()
            }
            "ops" => reads.replace(named_list(ctx, value, column, &ReadOp::ALL, ReadOp::name)?).is_some(),
            _ if !writes => return Err(ctx.err(tok.column, "'slots=' belongs to 'workload writes'")),
            _ => slots.replace(workload_slots(ctx, value, column)?).is_some(),
        };
        if seen {
            return Err(ctx.err(tok.column, format!("'{key}' given twice")));
        }
    }
    let every_ms = every_ms.unwrap_or(Workload::EVERY_MS_DEFAULT);
    let on = on.unwrap_or(Target::All);
    Ok(Step::Workload(if writes {
        Workload::Writes {
            every_ms,
            on,
            ops: write_ops.unwrap_or(vec![WriteOp::Slots]),
            slots: slots.unwrap_or(Workload::WRITE_SLOTS_DEFAULT),
        }
    } else {
        Workload::Reads { every_ms, on, ops: reads.unwrap_or(ReadOp::ALL.to_vec()) }
    }))
}

/// `slots=<a>-<b>` (or one slot): an inclusive range of valid slots, `a <= b`.
fn workload_slots(ctx: &Ctx<'_>, value: &str, column: usize) -> Result<(u16, u16), ScenarioError> {
    let slot = |s: &str| s.parse::<u16>().ok().filter(|n| *n < 16_384);
    let range = match value.split_once('-') {
        Some((a, b)) => slot(a).zip(slot(b)),
        None => slot(value).map(|s| (s, s)),
    };
    range.filter(|(a, b)| a <= b).ok_or_else(|| {
        ctx.err(
            column,
            format!("expected a slot range such as 16000-16383 (slots 0 to 16383, low first), found '{value}'"),
        )
    })
}

fn workload_every(ctx: &Ctx<'_>, value: &str, column: usize) -> Result<u64, ScenarioError> {
    duration_ms(value).filter(|ms| (Workload::EVERY_MS_MIN..=SLEEP_MS_MAX).contains(ms)).ok_or_else(|| {
        let min = Workload::EVERY_MS_MIN;
        ctx.err(column, format!("expected a period such as 50ms (from {min} ms to {SLEEP_MS_MAX} ms), found '{value}'"))
    })
}

/// A comma-separated list of distinct names out of `all`.
fn named_list<T: Copy + PartialEq>(
    ctx: &Ctx<'_>,
    value: &str,
    column: usize,
    all: &[T],
    name_of: fn(T) -> &'static str,
) -> Result<Vec<T>, ScenarioError> {
    let mut ops = Vec::new();
    let mut col = column;
    for name in value.split(',') {
        let op = all.iter().copied().find(|o| name_of(*o) == name).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|o| name_of(*o)).collect();
            ctx.err(col, format!("unknown op '{name}' (expected one or more of {})", names.join(", ")))
        })?;
        if ops.contains(&op) {
            return Err(ctx.err(col, format!("'{name}' listed twice")));
        }
        ops.push(op);
        col += name.chars().count() + 1;
    }
    Ok(ops)
}

/// The bound of `wait-consistent` and `settle`: `within=<duration>`, or `default` without it.
fn within_ms(l: &Line<'_>, default: u64) -> Result<u64, ScenarioError> {
    let ctx = l.ctx;
    let Some(tok) = l.tokens.get(1) else { return Ok(default) };
    let Some((_within, value, value_col)) = ctx.option(tok, "key", l.verb.options)? else {
        return Err(ctx.err(tok.column, format!("expected within=<duration>, found '{}'", tok.text)));
    };
    let ms = duration_ms(value).filter(|ms| (1..=SLEEP_MS_MAX).contains(ms)).ok_or_else(|| {
        ctx.err(value_col, format!("expected a duration such as 30s (at most {SLEEP_MS_MAX} ms), found '{value}'"))
    })?;
    ctx.no_more(l.tokens, 2)?;
    Ok(ms)
}

fn parse_header(ctx: &Ctx<'_>, tokens: &[Token]) -> Result<Header, ScenarioError> {
    let Some(count) = tokens.get(1) else {
        return Err(ctx.err(tokens[0].column + 7, "'cluster' needs the number of nodes"));
    };
    let nodes: usize = count.text.parse().ok().filter(|n| (1..=Header::NODES_MAX).contains(n)).ok_or_else(|| {
        ctx.err(count.column, format!("expected a node count from 1 to {}, found '{}'", Header::NODES_MAX, count.text))
    })?;
    let mut header = Header {
        nodes,
        strategy: None,
        profile: None,
        base_port: Header::DEFAULT_BASE_PORT,
        drift: Vec::new(),
        strict: false,
    };
    // The options refer to the cluster's nodes (`drift=n2:+20%`).
    let ctx = Ctx { file: ctx.file, line: ctx.line, nodes };
    for tok in &tokens[2..] {
        if tok.text == "strict" && !tok.quoted {
            if std::mem::replace(&mut header.strict, true) {
                return Err(ctx.err(tok.column, "'strict' given twice"));
            }
            continue;
        }
        let Some((key, value, value_col)) = ctx.option(tok, "key", HEADER_OPTIONS)? else {
            return Err(ctx.err(tok.column, format!("expected key=value or strict, found '{}'", tok.text)));
        };
        let bad = |message: String| ctx.err(value_col, message);
        match key {
            "strategy" => {
                header.strategy =
                    Some(value.parse().map_err(|e: clustersim::server::StrategyParseError| bad(e.to_string()))?);
            }
            "profile" => {
                header.profile =
                    Some(value.parse().map_err(|e: crate::profile::ProfileParseError| bad(e.to_string()))?);
            }
            "base-port" => {
                // The last node's bus port must fit: Redis's port + 10000 rule, the node crate's `bus_port_of`.
                let last_fits = |p: u16| {
                    u16::try_from(usize::from(p) + nodes - 1).ok().and_then(clustersim::cluster::bus_port_of).is_some()
                };
                let port = value.parse().ok().filter(|p: &u16| *p > 0 && last_fits(*p));
                let room = format!("leaves room for {nodes} nodes and their bus ports");
                header.base_port = port.ok_or_else(|| bad(format!("expected a port that {room}, found '{value}'")))?;
            }
            "drift" => header.drift = parse_drift(&ctx, value, value_col)?,
            _ => return Err(ctx.err(tok.column, "'strict' is a bare keyword: it takes no value")),
        }
    }
    Ok(header)
}

/// `drift=n2:+20%,n3:-10%`: each node at most once, each percentage within the header's bounds.
fn parse_drift(ctx: &Ctx<'_>, value: &str, value_col: usize) -> Result<Vec<(usize, i32)>, ScenarioError> {
    let mut drift = Vec::new();
    let mut column = value_col;
    let mut seen = vec![false; ctx.nodes + 1];
    for item in value.split(',') {
        let bad = || ctx.err(column, format!("expected <node>:<+|-><percent>% such as n2:+20%, found '{item}'"));
        let (name, pct) = item.split_once(':').ok_or_else(bad)?;
        let node = ctx.node(&Token { text: name.to_string(), column, quoted: false })?;
        let digits = pct.strip_suffix('%').ok_or_else(bad)?;
        if !digits.starts_with(['+', '-']) {
            return Err(bad());
        }
        let percent: i32 = digits.parse().map_err(|_| bad())?;
        if !(Header::DRIFT_PERCENT_MIN..=Header::DRIFT_PERCENT_MAX).contains(&percent) {
            let (min, max) = (Header::DRIFT_PERCENT_MIN, Header::DRIFT_PERCENT_MAX);
            return Err(ctx.err(column, format!("a clock drift is from {min}% to +{max}%, found '{pct}'")));
        }
        if std::mem::replace(&mut seen[node], true) {
            return Err(ctx.err(column, format!("n{node} has two drifts")));
        }
        drift.push((node, percent));
        column += item.chars().count() + 1;
    }
    Ok(drift)
}
