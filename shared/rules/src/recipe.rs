//! A minimal declarative bot recipe, so that "the number's enabled recipe handles it" is real in
//! every mode: steps with text and up to three reply buttons, a branch per pressed button and one
//! for anything typed, hand-off to an agent, and completion (AUTO-8 closes the conversation).

use crate::ids::RecipeId;
use serde::{Deserialize, Serialize};

/// WhatsApp reply buttons: at most 3 per interactive message, titles of at most 20 characters.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    pub id: RecipeId,
    /// The step a new bot conversation starts on.
    pub start: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub buttons: Vec<RecipeButton>,
    /// Where anything other than a button press leads (default: ask again).
    #[serde(default)]
    pub on_text: Option<Next>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeButton {
    pub title: String,
    pub next: Next,
}

/// Where a step leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "then", content = "step")]
pub enum Next {
    Step(String),
    /// Hand the conversation to an agent (it enters `Unassigned` and the queue).
    HandOff,
    /// The recipe is done: the bot conversation closes (AUTO-8).
    Complete,
}

/// What the customer did, as the bot sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotInput<'a> {
    /// A reply button of a bot step, by its id (`bot.<step>.<index>`).
    Button(&'a str),
    /// Anything else.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipeError {
    #[error("recipe has no steps")]
    Empty,
    #[error("start step {0:?} does not exist")]
    MissingStart(String),
    #[error("step {0:?} appears twice")]
    DuplicateStep(String),
    #[error("step {step:?} leads to {target:?}, which does not exist")]
    DanglingNext { step: String, target: String },
    #[error("step {0:?} has more than 3 buttons")]
    TooManyButtons(String),
    #[error("step {step:?}: button title {title:?} is empty or longer than 20 characters")]
    ButtonTitle { step: String, title: String },
    #[error("step {0:?} has an empty text")]
    EmptyText(String),
    #[error("step id {0:?} may contain only letters, digits, '_' and '-'")]
    StepId(String),
}

impl Recipe {
    /// Checks the recipe once, when it is configured.
    pub fn validate(&self) -> Result<(), RecipeError> {
        if self.steps.is_empty() {
            return Err(RecipeError::Empty);
        }
        let mut seen = std::collections::BTreeSet::new();
        for step in &self.steps {
            if step.id.is_empty()
                || !step
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(RecipeError::StepId(step.id.clone()));
            }
            if !seen.insert(step.id.as_str()) {
                return Err(RecipeError::DuplicateStep(step.id.clone()));
            }
        }
        if !seen.contains(self.start.as_str()) {
            return Err(RecipeError::MissingStart(self.start.clone()));
        }
        for step in &self.steps {
            if step.text.trim().is_empty() {
                return Err(RecipeError::EmptyText(step.id.clone()));
            }
            if step.buttons.len() > MAX_BUTTONS {
                return Err(RecipeError::TooManyButtons(step.id.clone()));
            }
            let nexts = step
                .buttons
                .iter()
                .map(|b| &b.next)
                .chain(step.on_text.iter());
            for b in &step.buttons {
                let n = b.title.chars().count();
                if n == 0 || n > MAX_BUTTON_TITLE {
                    return Err(RecipeError::ButtonTitle {
                        step: step.id.clone(),
                        title: b.title.clone(),
                    });
                }
            }
            for next in nexts {
                if let Next::Step(target) = next
                    && !seen.contains(target.as_str())
                {
                    return Err(RecipeError::DanglingNext {
                        step: step.id.clone(),
                        target: target.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Where the customer's input on `step` leads. An unknown step (the recipe changed under a
    /// running conversation) hands off, so the customer is never stuck.
    pub fn advance(&self, step: &str, input: BotInput<'_>) -> Next {
        let Some(current) = self.step(step) else {
            return Next::HandOff;
        };
        if let BotInput::Button(id) = input
            && let Some((s, index)) = parse_button_id(id)
            && s == step
            && let Some(button) = current.buttons.get(index)
        {
            return button.next.clone();
        }
        current
            .on_text
            .clone()
            .unwrap_or_else(|| Next::Step(step.to_owned()))
    }
}

/// The reply-button id Switchboard gives button `index` of `step`.
pub fn button_id(step: &str, index: usize) -> String {
    format!("bot.{step}.{index}")
}

fn parse_button_id(id: &str) -> Option<(&str, usize)> {
    let rest = id.strip_prefix("bot.")?;
    let (step, index) = rest.rsplit_once('.')?;
    Some((step, index.parse().ok()?))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small support recipe: a menu, an FAQ answer that completes, and a hand-off.
    pub fn support_recipe() -> Recipe {
        Recipe {
            id: RecipeId::new("support").unwrap(),
            start: "menu".into(),
            steps: vec![
                Step {
                    id: "menu".into(),
                    text: "Hi! What do you need?".into(),
                    buttons: vec![
                        RecipeButton {
                            title: "Opening hours".into(),
                            next: Next::Step("hours".into()),
                        },
                        RecipeButton {
                            title: "Talk to a person".into(),
                            next: Next::HandOff,
                        },
                    ],
                    on_text: None,
                },
                Step {
                    id: "hours".into(),
                    text: "We are open 9-17. Anything else?".into(),
                    buttons: vec![
                        RecipeButton {
                            title: "No, thanks".into(),
                            next: Next::Complete,
                        },
                        RecipeButton {
                            title: "Yes".into(),
                            next: Next::Step("menu".into()),
                        },
                    ],
                    on_text: Some(Next::HandOff),
                },
            ],
        }
    }

    #[test]
    fn recipe_branches_on_buttons_and_text() {
        let r = support_recipe();
        r.validate().unwrap();
        assert_eq!(
            r.advance("menu", BotInput::Button(&button_id("menu", 0))),
            Next::Step("hours".into())
        );
        assert_eq!(
            r.advance("menu", BotInput::Button(&button_id("menu", 1))),
            Next::HandOff
        );
        // Typing on the menu asks again; typing on "hours" hands off.
        assert_eq!(
            r.advance("menu", BotInput::Other),
            Next::Step("menu".into())
        );
        assert_eq!(r.advance("hours", BotInput::Other), Next::HandOff);
        // A button of another step is just input.
        assert_eq!(
            r.advance("hours", BotInput::Button(&button_id("menu", 0))),
            Next::HandOff
        );
        assert_eq!(
            r.advance("hours", BotInput::Button(&button_id("hours", 0))),
            Next::Complete
        );
        assert_eq!(r.advance("gone", BotInput::Other), Next::HandOff);
    }

    #[test]
    fn recipe_validation_names_the_problem() {
        let mut r = support_recipe();
        r.start = "nope".into();
        assert_eq!(r.validate(), Err(RecipeError::MissingStart("nope".into())));
        let mut r = support_recipe();
        r.steps[0].buttons[0].next = Next::Step("missing".into());
        assert!(matches!(
            r.validate(),
            Err(RecipeError::DanglingNext { .. })
        ));
        let mut r = support_recipe();
        r.steps[0].buttons[0].title = "A title that is far too long".into();
        assert!(matches!(r.validate(), Err(RecipeError::ButtonTitle { .. })));
        let mut r = support_recipe();
        for _ in 0..2 {
            let extra = r.steps[0].buttons[0].clone();
            r.steps[0].buttons.push(extra);
        }
        assert!(matches!(r.validate(), Err(RecipeError::TooManyButtons(_))));
    }
}
