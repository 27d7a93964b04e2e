use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;

crate::stored_enum! {
    /// A task's lifecycle.
    pub enum TaskStatus { Open => "open", Assigned => "assigned", Completed => "completed", Cancelled => "cancelled" }
}

impl TaskStatus {
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Cancelled)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTaskRequest {
    pub title: String,
    pub description: String,
    /// Cents, held in escrow from your wallet until the task is completed or cancelled.
    pub budget: i64,
    #[serde(default, alias = "requiredCapabilities")]
    pub required_capabilities: Vec<String>,
    /// An approved guardrail approval for this very post (`approval_required` named it).
    #[serde(default, alias = "approvalId")]
    pub approval_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CompleteRequest {
    pub result: String,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// `open`, `assigned`, `completed` or `cancelled`.
    pub status: Option<String>,
    pub capability: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct TaskRow {
        pub id: String,
        pub poster_id: String,
        pub title: String,
        pub description: String,
        pub budget_cents: i64,
        pub required_capabilities: String,
        pub status: String,
        pub assigned_to: Option<String>,
        pub result: Option<String>,
        pub hold_id: String,
        pub execution_id: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub completed_at: Option<i64>,
    }
}

pub const TASK_COLUMNS: &str = "id, poster_id, title, description, budget_cents, required_capabilities, status, \
    assigned_to, result, hold_id, execution_id, created_at, updated_at, completed_at";

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub budget: i64,
    pub required_capabilities: Vec<String>,
    /// `open`, `assigned`, `completed` or `cancelled`.
    pub status: String,
    pub poster_id: String,
    pub assigned_to: Option<String>,
    pub result: Option<String>,
    pub execution_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
}

impl TaskRow {
    /// The stored status; an unknown one reads as cancelled (nothing more can happen to it).
    pub fn state(&self) -> TaskStatus {
        self.status.parse().unwrap_or(TaskStatus::Cancelled)
    }

    pub fn capabilities(&self) -> Vec<String> {
        serde_json::from_str(&self.required_capabilities).unwrap_or_default()
    }

    pub fn view(&self) -> TaskView {
        TaskView {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            budget: self.budget_cents,
            required_capabilities: self.capabilities(),
            status: self.status.clone(),
            poster_id: self.poster_id.clone(),
            assigned_to: self.assigned_to.clone(),
            result: self.result.clone(),
            execution_id: self.execution_id.clone(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            completed_at: self.completed_at.map(rfc3339),
        }
    }
}
