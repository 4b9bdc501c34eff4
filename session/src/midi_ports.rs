//! Picking a MIDI port by the name a person types, for output (`midi_out`, feature
//! `midi-out`) and input (`midi_in`, feature `midi-in`) alike.

/// The index of the port `name` picks among `names`: the port of exactly that name, else the
/// one port whose name contains it (case-insensitive). When none or several match, the error
/// names the `kind` of port (`output`, `input`) and lists the ports there are.
pub fn pick(names: &[String], name: &str, kind: &str) -> Result<usize, String> {
    if let Some(exact) = names.iter().position(|n| n == name) {
        return Ok(exact);
    }
    let wanted = name.to_lowercase();
    let matches: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.to_lowercase().contains(&wanted))
        .map(|(i, _)| i)
        .collect();
    if let [one] = matches[..] {
        return Ok(one);
    }
    let list = if names.is_empty() {
        format!("there are no MIDI {kind} ports")
    } else {
        format!("the {kind} ports are: {}", names.join(", "))
    };
    Err(format!("no single MIDI {kind} port named '{name}': {list}"))
}

/// The port of `io` that `name` picks (see [`pick`]), with its name.
#[cfg(any(feature = "midi-in", feature = "midi-out"))]
pub(crate) fn open_port<T: midir::MidiIO>(
    io: &T,
    name: &str,
    kind: &str,
) -> Result<(T::Port, String), String> {
    let ports = io.ports();
    let names: Vec<String> = ports
        .iter()
        .map(|p| io.port_name(p).unwrap_or_default())
        .collect();
    let index = pick(&names, name, kind)?;
    Ok((ports[index].clone(), names[index].clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_name_or_one_match_picks_a_port_else_the_ports_are_listed() {
        let names: Vec<String> = ["Midi Through:0", "KeyStep 32:0", "KeyStep 32:1"]
            .map(String::from)
            .to_vec();
        assert_eq!(pick(&names, "KeyStep 32:1", "input"), Ok(2));
        assert_eq!(pick(&names, "through", "input"), Ok(0));
        let several = pick(&names, "keystep", "input").unwrap_err();
        assert!(
            several.contains("the input ports are: Midi Through:0, KeyStep 32:0"),
            "{several}"
        );
        let none = pick(&[], "x", "output").unwrap_err();
        assert!(none.contains("there are no MIDI output ports"), "{none}");
    }
}
