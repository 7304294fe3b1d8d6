//! The activity model: who looks at what, when. Pure and seeded: the same catalogue and
//! parameters give the same events, event ids included.
//!
//! - Popularity: products ranked by a seeded shuffle, picked with Zipf weights 1/rank^s.
//! - Planted taste: each user prefers 2 categories (popular ones more often) and one brand in
//!   each; 75 % of their product picks come from those categories, half of those from the brand.
//! - Sessions: an optional search, views, some views go to the cart, some carts are bought,
//!   some purchases reviewed (preferred products rated higher).
//! - Held-out tail: every user's last `holdout` events happen at or after `split_ts` and all
//!   others before it, so an evaluation splits by `ts >= split_ts` (see the design notes).

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::event::ClientEvent;

/// What the model needs of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub product_id: String,
    pub category: String,
    pub brand: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Params {
    pub users: usize,
    pub events: usize,
    pub seed: u64,
    /// Start of the simulated period, UTC ms.
    pub start_ms: i64,
    pub train_days: u32,
    pub test_days: u32,
    /// Events per user after `split_ts`.
    pub holdout: usize,
    /// Zipf exponent of product popularity.
    pub zipf: f64,
}

/// A user's planted preferences (ground truth for evaluating recommendations).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Truth {
    pub user_id: String,
    pub categories: Vec<String>,
    pub brands: Vec<String>,
    pub events: usize,
}

#[derive(Debug, Clone)]
pub struct Simulation {
    /// Sorted by time.
    pub events: Vec<ClientEvent>,
    pub truth: Vec<Truth>,
    pub split_ts: i64,
}

const DAY_MS: i64 = 86_400_000;
const PREFERRED_SHARE: f64 = 0.75;
const BRAND_SHARE: f64 = 0.5;

/// Sampling with weights 1/(rank+1)^s.
#[derive(Debug, Clone)]
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut acc = 0.0;
        let cumulative = (0..n)
            .map(|k| {
                acc += 1.0 / ((k + 1) as f64).powf(s);
                acc
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

/// Products of one group, most popular first, with their sampler.
#[derive(Debug, Clone)]
struct Pool {
    items: Vec<usize>,
    zipf: Zipf,
}

impl Pool {
    fn new(mut items: Vec<usize>, rank: &[usize], s: f64) -> Pool {
        items.sort_by_key(|&i| rank[i]);
        let zipf = Zipf::new(items.len(), s);
        Pool { items, zipf }
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        self.items[self.zipf.sample(rng)]
    }
}

struct World<'a> {
    catalogue: &'a [Item],
    global: Pool,
    categories: Vec<(String, Pool)>,
    by_brand: BTreeMap<(String, String), Pool>,
    category_zipf: Zipf,
}

/// One planned event: type, product index, search query, rating.
type Draft = (&'static str, Option<usize>, Option<String>, Option<i32>);

struct Taste {
    categories: Vec<usize>,
    brands: Vec<Option<String>>,
}

fn uuid(rng: &mut StdRng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

impl World<'_> {
    fn pick_product(&self, taste: &Taste, rng: &mut StdRng) -> usize {
        if rng.random_bool(PREFERRED_SHARE) && !taste.categories.is_empty() {
            let k = rng.random_range(0..taste.categories.len());
            let (cat, pool) = &self.categories[taste.categories[k]];
            if let Some(brand) = &taste.brands[k] {
                if rng.random_bool(BRAND_SHARE) {
                    if let Some(bp) = self.by_brand.get(&(cat.clone(), brand.clone())) {
                        return bp.pick(rng);
                    }
                }
            }
            return pool.pick(rng);
        }
        self.global.pick(rng)
    }

    fn prefers(&self, taste: &Taste, item: usize) -> bool {
        let it = &self.catalogue[item];
        taste
            .categories
            .iter()
            .any(|&c| self.categories[c].0 == it.category)
    }

    /// `n` events of one user in sessions placed in `[from, to)`.
    fn sessions(
        &self,
        user: &str,
        taste: &Taste,
        n: usize,
        from: i64,
        to: i64,
        rng: &mut StdRng,
    ) -> Vec<ClientEvent> {
        // Draft the actions first, then place the sessions in time.
        let mut drafts: Vec<Vec<Draft>> = Vec::new();
        let mut left = n;
        while left > 0 {
            let len = (1 + (rng.random::<f64>().ln() / (1.0f64 - 1.0 / 6.0).ln()) as usize)
                .clamp(1, 20)
                .min(left);
            let mut s = Vec::with_capacity(len);
            if rng.random_bool(0.25) {
                let k = rng.random_range(0..taste.categories.len().max(1));
                let query = match (taste.categories.get(k), taste.brands.get(k)) {
                    (_, Some(Some(b))) if rng.random_bool(0.4) => b.clone(),
                    (Some(&c), _) => self.categories[c].0.to_lowercase(),
                    _ => "подарок".to_owned(),
                };
                s.push(("search", None, Some(query), None));
            }
            let mut cart: Vec<usize> = Vec::new();
            while s.len() < len {
                let item = self.pick_product(taste, rng);
                s.push(("view", Some(item), None, None));
                if s.len() < len && rng.random_bool(0.18) {
                    s.push(("add_to_cart", Some(item), None, None));
                    cart.push(item);
                }
                if s.len() < len && !cart.is_empty() && rng.random_bool(0.3) {
                    let bought = cart.remove(0);
                    s.push(("purchase", Some(bought), None, None));
                    if s.len() < len && rng.random_bool(0.3) {
                        let rating = if self.prefers(taste, bought) {
                            rng.random_range(4..=5)
                        } else {
                            rng.random_range(1..=5)
                        };
                        s.push(("review", Some(bought), None, Some(rating)));
                    }
                }
            }
            left -= s.len();
            drafts.push(s);
        }
        // Session starts: sorted uniform in the window, leaving room for the longest session.
        let last_start = (to - 3_600_000).max(from + 1);
        let mut starts: Vec<i64> = drafts
            .iter()
            .map(|_| rng.random_range(from..last_start))
            .collect();
        starts.sort_unstable();
        let mut out = Vec::with_capacity(n);
        for (draft, start) in drafts.into_iter().zip(starts) {
            let session_id = uuid(rng);
            let mut ts = start;
            for (event_type, item, query, rating) in draft {
                out.push(ClientEvent {
                    event_id: uuid(rng),
                    user_id: user.to_owned(),
                    session_id: session_id.clone(),
                    event_type: event_type.to_owned(),
                    product_id: item.map(|i| self.catalogue[i].product_id.clone()),
                    query,
                    rating,
                    result_count: None,
                    ts,
                });
                ts += rng.random_range(10_000..180_000);
            }
        }
        out
    }
}

/// Simulate `params.events` events of `params.users` users over `catalogue`.
pub fn simulate(catalogue: &[Item], params: &Params) -> Simulation {
    let mut rng = StdRng::seed_from_u64(params.seed);
    let split_ts = params.start_ms + i64::from(params.train_days) * DAY_MS;
    let end_ts = split_ts + i64::from(params.test_days.max(1)) * DAY_MS;
    if catalogue.is_empty() || params.users == 0 {
        return Simulation {
            events: Vec::new(),
            truth: Vec::new(),
            split_ts,
        };
    }
    // Popularity rank: a seeded shuffle of the catalogue.
    let mut order: Vec<usize> = (0..catalogue.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut rank = vec![0; catalogue.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let mut cats: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut brands: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, it) in catalogue.iter().enumerate() {
        cats.entry(&it.category).or_default().push(i);
        if let Some(b) = &it.brand {
            brands
                .entry((it.category.clone(), b.clone()))
                .or_default()
                .push(i);
        }
    }
    // Categories ordered by their best product's popularity: popular categories first.
    let mut categories: Vec<(String, Pool)> = cats
        .into_iter()
        .map(|(c, items)| (c.to_owned(), Pool::new(items, &rank, params.zipf)))
        .collect();
    categories.sort_by_key(|(_, p)| p.items.first().map_or(usize::MAX, |&i| rank[i]));
    let world = World {
        catalogue,
        global: Pool::new((0..catalogue.len()).collect(), &rank, params.zipf),
        category_zipf: Zipf::new(categories.len(), 0.8),
        by_brand: brands
            .into_iter()
            .map(|(k, items)| (k, Pool::new(items, &rank, params.zipf)))
            .collect(),
        categories,
    };

    // Activity: log-normal weights, at least holdout + 5 events per user, exactly `events` total.
    let min_events = params.holdout + 5;
    let weights: Vec<f64> = (0..params.users)
        .map(|_| {
            let (u1, u2) = (rng.random::<f64>().max(1e-12), rng.random::<f64>());
            (0.6 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()).exp()
        })
        .collect();
    let total_w: f64 = weights.iter().sum();
    let budget = params.events.max(params.users * min_events);
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|w| ((budget as f64) * w / total_w) as usize)
        .map(|c| c.max(min_events))
        .collect();
    let mut diff = budget as i64 - counts.iter().sum::<usize>() as i64;
    let mut i = 0;
    while diff != 0 {
        let u = i % counts.len();
        if diff > 0 {
            counts[u] += 1;
            diff -= 1;
        } else if counts[u] > min_events {
            counts[u] -= 1;
            diff += 1;
        }
        i += 1;
    }

    let mut events = Vec::with_capacity(budget);
    let mut truth = Vec::with_capacity(params.users);
    for (u, &n) in counts.iter().enumerate() {
        let user_id = format!("u{:05}", u + 1);
        let mut taste = Taste {
            categories: Vec::new(),
            brands: Vec::new(),
        };
        while taste.categories.len() < 2.min(world.categories.len()) {
            let c = world.category_zipf.sample(&mut rng);
            if !taste.categories.contains(&c) {
                taste.categories.push(c);
            }
        }
        for &c in &taste.categories {
            let cat = &world.categories[c].0;
            let options: Vec<&String> = world
                .by_brand
                .keys()
                .filter(|(k, _)| k == cat)
                .map(|(_, b)| b)
                .collect();
            let brand =
                (!options.is_empty()).then(|| options[rng.random_range(0..options.len())].clone());
            taste.brands.push(brand);
        }
        let mut mine = world.sessions(
            &user_id,
            &taste,
            n - params.holdout,
            params.start_ms,
            split_ts,
            &mut rng,
        );
        mine.extend(world.sessions(&user_id, &taste, params.holdout, split_ts, end_ts, &mut rng));
        truth.push(Truth {
            user_id,
            categories: taste
                .categories
                .iter()
                .map(|&c| world.categories[c].0.clone())
                .collect(),
            brands: taste.brands.iter().flatten().cloned().collect(),
            events: n,
        });
        events.extend(mine);
    }
    events.sort_by(|a, b| (a.ts, &a.user_id).cmp(&(b.ts, &b.user_id)));
    Simulation {
        events,
        truth,
        split_ts,
    }
}

#[cfg(test)]
mod tests;
