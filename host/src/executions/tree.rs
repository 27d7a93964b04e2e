//! The tree of runs under an execution: every skill call and hire its component made, and
//! theirs, each with its cost, so a buyer sees what ran on its money and what it cost.

use super::model::{CostView, ErrorView, ExecutionNode, ExecutionRow};
use super::store;
use crate::db::rfc3339;
use crate::state::App;

/// Levels read below the root at most: deeper than nesting allows, so never cut.
const MAX_LEVELS: u32 = 17;

pub async fn tree(app: &App, root: ExecutionRow) -> Result<ExecutionNode, sqlx::Error> {
    let mut levels: Vec<Vec<ExecutionRow>> = vec![vec![root]];
    for _ in 0..MAX_LEVELS {
        let ids: Vec<String> = levels.last().into_iter().flatten().map(|r| r.id.clone()).collect();
        let below = store::children_of(&app.db, &ids).await?;
        if below.is_empty() {
            break;
        }
        levels.push(below);
    }
    // Build bottom-up: each level's nodes are handed to their parents in the level above.
    let mut children: Vec<ExecutionNode> = Vec::new();
    for level in levels.into_iter().rev() {
        let mut nodes: Vec<ExecutionNode> = level.iter().map(node).collect();
        for child in children.drain(..) {
            if let Some(parent) = nodes.iter_mut().find(|n| Some(&n.id) == child.parent_id.as_ref()) {
                parent.total_cents += child.total_cents;
                parent.children.push(child);
            }
        }
        children = nodes;
    }
    Ok(children.into_iter().next().expect("the root is the first level"))
}

fn node(r: &ExecutionRow) -> ExecutionNode {
    let cost: CostView = r.cost();
    ExecutionNode {
        id: r.id.clone(),
        parent_id: r.parent_id.clone(),
        agent_id: r.agent_id.clone(),
        buyer_id: r.buyer_id.clone(),
        skill_id: r.skill_id.clone(),
        component_id: r.component_id.clone(),
        status: r.status.clone(),
        error: r
            .error_code
            .clone()
            .map(|code| ErrorView { code, message: r.error_message.clone().unwrap_or_default() }),
        budget: r.budget_cents,
        total_cents: cost.price_cents + cost.compute_cents,
        cost,
        usage: r.usage(),
        created_at: rfc3339(r.created_at),
        children: Vec::new(),
    }
}
