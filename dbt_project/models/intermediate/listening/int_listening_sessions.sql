{{
    config(
        tmp_relation_type=incremental_tmp_relation_type(),
    )
}}

{%- set session_gap_seconds = var('session_gap_minutes') * 60 %}

with

listens as (

    select
        event_id,
        user_id,
        listen_date,
        listened_at,
        -- A scrobble without ms_played counts as ending when it starts: the gap to the next
        -- listen is then measured from this one's start.
        {{ dbt.dateadd('millisecond', 'coalesce(ms_played, 0)', 'listened_at') }} as listen_ended_at,
        ms_played

    from {{ ref('stg_landing__listens') }}
    where {{ partition_window_filter('listen_date') }}

),

-- Sessions are cut at the day boundary: a day's sessions depend on that day's listens only,
-- so one partition can be rebuilt without touching its neighbours.
-- The gap is measured from the latest end of any earlier listen, which keeps sessions disjoint
-- even when playbacks overlap.
listens_with_previous_end as (

    select
        *,
        max(listen_ended_at) over (
            partition by user_id, listen_date
            order by listened_at, event_id
            rows between unbounded preceding and 1 preceding
        ) as previous_listens_ended_at

    from listens

),

flagged_session_starts as (

    select
        *,
        case
            when previous_listens_ended_at is null then 1
            when {{ dbt.datediff('previous_listens_ended_at', 'listened_at', 'second') }}
                > {{ session_gap_seconds }} then 1
            else 0
        end as is_session_start

    from listens_with_previous_end

),

numbered_listens as (

    select
        *,
        sum(is_session_start) over (
            partition by user_id, listen_date
            order by listened_at, event_id
            rows between unbounded preceding and current row
        ) as session_number

    from flagged_session_starts

),

sessions as (

    select
        user_id,
        listen_date,
        min(listened_at) as session_start,
        max(listen_ended_at) as session_end,
        count(*) as listens,
        cast(sum(ms_played) as {{ dbt.type_bigint() }}) as ms_played

    from numbered_listens
    group by user_id, listen_date, session_number

),

final as (

    select
        {{ generate_surrogate_key(['user_id', 'listen_date', 'session_start']) }} as session_id,
        user_id,
        listen_date,
        session_start,
        session_end,
        listens,
        ms_played

    from sessions

)

select * from final
