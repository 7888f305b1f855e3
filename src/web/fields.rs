//! What a form input needs to render, built from the same rules the server checks, so
//! `maxlength`, `required` and hints cannot drift from the parsers.

/// One labelled input, its value, its message and its hints.
pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub error: Option<&'static str>,
    /// `text`, `email`, `password`, `number`, or `textarea`.
    pub input_type: &'static str,
    pub maxlength: Option<usize>,
    pub inputmode: &'static str,
    pub autocomplete: &'static str,
    pub placeholder: &'static str,
    pub hint: String,
    /// The hint for each profile type, where it differs, so script can swap it.
    pub hint_by_kind: Option<(String, String)>,
    pub required: bool,
}

impl FieldView {
    pub fn new(name: &'static str, label: &'static str, value: &str, error: Option<&'static str>) -> FieldView {
        FieldView {
            name,
            label,
            value: value.to_owned(),
            error,
            input_type: "text",
            maxlength: None,
            inputmode: "",
            autocomplete: "off",
            placeholder: "",
            hint: String::new(),
            hint_by_kind: None,
            required: false,
        }
    }

    pub fn kind(mut self, input_type: &'static str) -> Self {
        self.input_type = input_type;
        self
    }

    pub fn max(mut self, maxlength: usize) -> Self {
        self.maxlength = Some(maxlength);
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Required only when `required` holds (a secret is required on create, and may be left
    /// blank on edit to keep the saved one).
    pub fn required_if(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    pub fn inputmode(mut self, mode: &'static str) -> Self {
        self.inputmode = mode;
        self
    }

    pub fn autocomplete(mut self, value: &'static str) -> Self {
        self.autocomplete = value;
        self
    }

    pub fn placeholder(mut self, text: &'static str) -> Self {
        self.placeholder = text;
        self
    }

    pub fn hint(mut self, text: impl Into<String>) -> Self {
        self.hint = text.into();
        self
    }

    /// Hints for a Generic and a Graph profile; `hint` must be one of them.
    pub fn hints_by_kind(mut self, generic: String, graph: String) -> Self {
        self.hint_by_kind = Some((generic, graph));
        self
    }

    /// The ids the input's `aria-describedby` names: its message, then its hint.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.error.is_some() {
            ids.push(format!("error-{}", self.name));
        }
        if !self.hint.is_empty() {
            ids.push(format!("hint-{}", self.name));
        }
        ids.join(" ")
    }
}
