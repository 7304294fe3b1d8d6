//! The Spark application behind a run: recorded after each attempt, so `history` and `logs` can
//! point at the history server's page of the run even after its driver is gone.

use super::{q, Store, StoreError};

impl Store {
    /// Record the application of the run's latest attempt (a retry replaces the failed one's).
    pub async fn set_spark_app(
        &self,
        run_id: &str,
        app_id: &str,
        ui: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs_runs SET spark_app_id = $2, spark_ui = $3 WHERE run_id = $1")
            .bind(run_id)
            .bind(app_id)
            .bind(ui)
            .execute(&self.pool)
            .await
            .map_err(q("record spark application"))?;
        Ok(())
    }
}
