"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 13:31:09.808315
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.String(length=63), nullable=False),
    sa.Column('job_type', sa.String(length=100), nullable=False),
    sa.Column('backend', sa.String(length=50), nullable=False),
    sa.Column('backend_ref', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('storage_url', sa.String(length=1000), nullable=False),
    sa.Column('task_count', sa.Integer(), nullable=False),
    sa.Column('rows_selected', sa.Integer(), nullable=False),
    sa.Column('engine', sa.String(length=50), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('cost_estimate_usd', sa.Float(), nullable=True),
    sa.Column('cost_actual_usd', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_job_type'), ['job_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_state'), ['state'], unique=False)

    op.create_table('imports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=63), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('deliveries', sa.Integer(), nullable=False),
    sa.Column('parts_done', sa.Integer(), nullable=False),
    sa.Column('parts_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('predictions_created', sa.Integer(), nullable=False),
    sa.Column('insights_created', sa.Integer(), nullable=False),
    sa.Column('insights_updated', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_imports_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imports')),
    sa.UniqueConstraint('job_id', name=op.f('uq_imports_job_id'))
    )
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imports_state'), ['state'], unique=False)

    op.create_table('predictions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=63), nullable=True),
    sa.Column('barcode', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('value_tag', sa.String(length=100), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('predictor', sa.String(length=100), nullable=False),
    sa.Column('predictor_version', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_predictions_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('job_id', 'barcode', 'type', 'value_tag', name='uq_predictions_job_product')
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_predictions_barcode'), ['barcode'], unique=False)
        batch_op.create_index(batch_op.f('ix_predictions_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_predictions_predictor_version'), ['predictor_version'], unique=False)

    op.create_table('insights',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('barcode', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('value_tag', sa.String(length=100), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('predictor', sa.String(length=100), nullable=False),
    sa.Column('predictor_version', sa.String(length=200), nullable=False),
    sa.Column('prediction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('job_id', sa.String(length=63), nullable=True),
    sa.Column('annotation', sa.Integer(), nullable=True),
    sa.Column('annotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('annotated_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_insights_job_id_jobs')),
    sa.ForeignKeyConstraint(['prediction_id'], ['predictions.id'], name=op.f('fk_insights_prediction_id_predictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insights'))
    )
    with op.batch_alter_table('insights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insights_barcode'), ['barcode'], unique=False)
        batch_op.create_index(batch_op.f('ix_insights_type'), ['type'], unique=False)
        batch_op.create_index('uq_insights_open', ['barcode', 'type', 'value_tag'], unique=True, sqlite_where=sa.text('annotation IS NULL'), postgresql_where=sa.text('annotation IS NULL'))

    op.create_table('product_updates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('insight_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('barcode', sa.String(length=100), nullable=False),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['insight_id'], ['insights.id'], name=op.f('fk_product_updates_insight_id_insights')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_updates'))
    )
    with op.batch_alter_table('product_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_updates_insight_id'), ['insight_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('product_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_updates_insight_id'))

    op.drop_table('product_updates')
    with op.batch_alter_table('insights', schema=None) as batch_op:
        batch_op.drop_index('uq_insights_open', sqlite_where=sa.text('annotation IS NULL'), postgresql_where=sa.text('annotation IS NULL'))
        batch_op.drop_index(batch_op.f('ix_insights_type'))
        batch_op.drop_index(batch_op.f('ix_insights_barcode'))

    op.drop_table('insights')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_predictions_predictor_version'))
        batch_op.drop_index(batch_op.f('ix_predictions_job_id'))
        batch_op.drop_index(batch_op.f('ix_predictions_barcode'))

    op.drop_table('predictions')
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imports_state'))

    op.drop_table('imports')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_jobs_job_type'))

    op.drop_table('jobs')
