{#
    The daily partition window of a run, as inclusive dates. Two ways to give it:

    - dbt's own `--event-time-start` / `--event-time-end` flags (midnights UTC, the end exclusive,
      as for microbatch models): what Dagster passes. They are read at execution time only and
      are no part of dbt's partial-parsing state, so each new window reuses the parsed project.
    - vars `min_date` / `max_date` (inclusive ISO dates), kept for hand-run builds and unit tests;
      a change of vars makes dbt re-parse the whole project (~2 s).

    Both or neither of each pair. Vars, when given, win over the flags: unit tests fix their
    window with vars whatever the build's flags. A --full-refresh run ignores the window and
    rebuilds everything.
#}

{% macro get_partition_window() %}
    {%- set event_time_start = invocation_args_dict.get('event_time_start') -%}
    {%- set event_time_end = invocation_args_dict.get('event_time_end') -%}
    {%- set min_date = var('min_date', none) -%}
    {%- set max_date = var('max_date', none) -%}
    {%- if flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if event_time_start is not none and min_date is none and max_date is none -%}
        {#- dbt itself requires both flags and start < end. -#}
        {%- set window_start = _midnight_date(event_time_start, 'event-time-start') -%}
        {%- set window_end = _midnight_date(event_time_end, 'event-time-end')
            - modules.datetime.timedelta(days=1) -%}
        {{ return({'start': window_start | string, 'end': window_end | string}) }}
    {%- endif -%}
    {%- if min_date is none and max_date is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if min_date is none or max_date is none -%}
        {{ exceptions.raise_compiler_error(
            "Pass both vars min_date and max_date (inclusive ISO dates) or neither; got min_date="
            ~ min_date ~ ", max_date=" ~ max_date) }}
    {%- endif -%}
    {%- set window_start = _parse_iso_date(min_date, 'min_date') -%}
    {%- set window_end = _parse_iso_date(max_date, 'max_date') -%}
    {%- if window_start > window_end -%}
        {{ exceptions.raise_compiler_error(
            "min_date " ~ window_start ~ " is after max_date " ~ window_end) }}
    {%- endif -%}
    {{ return({'start': window_start | string, 'end': window_end | string}) }}
{% endmacro %}


{% macro _midnight_date(value, name) %}
    {#- The daily models' window is whole UTC days: an --event-time flag must be a midnight. -#}
    {%- if value.hour or value.minute or value.second or value.microsecond -%}
        {{ exceptions.raise_compiler_error(
            "--" ~ name ~ " must be a midnight (a whole day, e.g. 2024-03-01), got " ~ value) }}
    {%- endif -%}
    {{ return(value.date()) }}
{% endmacro %}


{% macro _parse_iso_date(value, name) %}
    {#- YAML turns an unquoted 2024-01-31 into a date; quoted it stays a string. -#}
    {%- set text = value | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error(name ~ " must be an ISO date (YYYY-MM-DD), got " ~ text) }}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat(text)) }}
{% endmacro %}


{% macro partition_window_filter(column) %}
    {#- A boolean SQL expression: true for rows inside the run's window (always true without one). -#}
    {%- set window = get_partition_window() -%}
    {%- if window -%}
        {{ column }} between cast('{{ window.start }}' as date) and cast('{{ window.end }}' as date)
    {%- else -%}
        1 = 1
    {%- endif -%}
{% endmacro %}


{% macro delete_partition_window(column='listen_date') %}
    {#-
        Pre-hook of the daily incremental models: empty the window that the run rebuilds (every
        day when no window is given) before the append refills it. The delete prunes on
        listen_date, so unlike delete+insert (which looks every new key up in the whole table)
        a day's run costs the same whatever the history, and days, users or artists that lost
        all their events lose their stale rows.
    -#}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ partition_window_filter(column) }}
    {%- endif -%}
{% endmacro %}
