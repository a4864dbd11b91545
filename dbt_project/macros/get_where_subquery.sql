{#
    dbt's get_where_subquery, plus one placeholder: a test whose `where` says
    __partition_window__ checks only the run's daily window (macros/partition_window.sql), so a
    day's run does not re-test the whole history. The daily models' tests carry it
    (dbt_project.yml); without a window it matches every row.
#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace(
            '__partition_window__', partition_window_filter('listen_date')
        ) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
