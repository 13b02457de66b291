#[jobs::task]
pub fn notify_user(user_id: String) -> Result<(), jobs::TaskError> {
    let _ = user_id;
    Ok(())
}

fn main() {}
