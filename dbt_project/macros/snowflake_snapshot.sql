{#-
    Snapshots on Snowflake, written so that fakesnow runs them too. Both changes are valid
    Snowflake SQL: the staging table is transient instead of temporary (fakesnow: "TEMPORARY table
    names can only use the temp catalog") and dropped after the merge; the merge's insert values
    name their table (fakesnow: "Ambiguous reference to column name"); and the merge runs on its
    own, atomic as any single statement, rather than inside begin/commit (fakesnow fails every
    MERGE in an explicit transaction). Other adapters keep dbt's own macros.
-#}

{% macro build_snapshot_staging_table(strategy, sql, target_relation) %}
    {%- if target.type != 'snowflake' -%}
        {{ return(dbt.build_snapshot_staging_table(strategy, sql, target_relation)) }}
    {%- endif -%}
    {%- set staging_relation = make_temp_relation(target_relation) -%}
    {%- set select = snapshot_staging_table(strategy, sql, target_relation) -%}
    {% call statement('build_snapshot_staging_relation') %}
        create or replace transient table {{ staging_relation }} as (
            {{ select }}
        )
    {% endcall %}
    {{ return(staging_relation) }}
{% endmacro %}


{% macro snowflake__post_snapshot(staging_relation) %}
    {% do adapter.drop_relation(staging_relation) %}
{% endmacro %}


{% macro snowflake__snapshot_merge_sql(target, source, insert_cols) %}
    {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}
    {%- set source_values = [] -%}
    {%- for column in insert_cols -%}
        {%- do source_values.append('DBT_INTERNAL_SOURCE.' ~ column) -%}
    {%- endfor -%}
    {%- set dml -%}
    merge into {{ target.render() }} as DBT_INTERNAL_DEST
    using {{ source }} as DBT_INTERNAL_SOURCE
    on DBT_INTERNAL_SOURCE.{{ columns.dbt_scd_id }} = DBT_INTERNAL_DEST.{{ columns.dbt_scd_id }}

    when matched
        {%- if config.get('dbt_valid_to_current') %}
        and (
            {{ equals('DBT_INTERNAL_DEST.' ~ columns.dbt_valid_to, config.get('dbt_valid_to_current') | trim) }}
            or DBT_INTERNAL_DEST.{{ columns.dbt_valid_to }} is null
        )
        {%- else %}
        and DBT_INTERNAL_DEST.{{ columns.dbt_valid_to }} is null
        {%- endif %}
        and DBT_INTERNAL_SOURCE.dbt_change_type in ('update', 'delete')
        then update
        set {{ columns.dbt_valid_to }} = DBT_INTERNAL_SOURCE.{{ columns.dbt_valid_to }}

    when not matched
        and DBT_INTERNAL_SOURCE.dbt_change_type = 'insert'
        then insert ({{ insert_cols | join(', ') }})
        values ({{ source_values | join(', ') }})
    {%- endset -%}
    {{ return(dml) }}
{% endmacro %}
