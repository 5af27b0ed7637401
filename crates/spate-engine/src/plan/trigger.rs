//! `define trigger T at 'start' | at every <time> | at '<cron>'`: a stream of
//! `(triggered_time long)` events driven by the app clock.

use spate_ql::ast;

use super::Planner;
use super::schema::StreamId;
use crate::cron::CronSchedule;

#[derive(Debug, Clone)]
pub enum TriggerKind {
    /// Once, when the app starts.
    Start,
    /// Every `period` ms, the first one `period` after the clock starts.
    Every(i64),
    /// At the times of a Quartz cron expression (UTC).
    Cron(CronSchedule),
}

#[derive(Debug)]
pub struct TriggerPlan {
    pub name: String,
    pub stream: StreamId,
    pub kind: TriggerKind,
    pub timer_template: Option<u32>,
}

impl Planner {
    pub(crate) fn trigger(&mut self, t: &ast::TriggerDef, stream: StreamId) {
        let kind = match &t.at {
            ast::TriggerAt::Every(time) => {
                if time.millis <= 0 {
                    self.error(
                        time.span,
                        format!("trigger `{}` needs a period above zero", t.id.name),
                    );
                    return;
                }
                TriggerKind::Every(time.millis)
            }
            ast::TriggerAt::Literal(lit) if lit.value.trim().eq_ignore_ascii_case("start") => {
                TriggerKind::Start
            }
            ast::TriggerAt::Literal(lit) => match CronSchedule::parse(&lit.value) {
                Ok(c) => TriggerKind::Cron(c),
                Err(e) => {
                    self.error(
                        lit.span,
                        format!(
                            "trigger `{}`: `{}` is neither 'start' nor a valid cron expression: {e}",
                            t.id.name, lit.value
                        ),
                    );
                    return;
                }
            },
        };
        let timer_template = match kind {
            TriggerKind::Start => None,
            _ => Some(self.next_timer_template()),
        };
        self.triggers.push(TriggerPlan {
            name: t.id.name.clone(),
            stream,
            kind,
            timer_template,
        });
    }
}
