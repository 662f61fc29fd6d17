use session::SessionSchema;

#[derive(SessionSchema)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
