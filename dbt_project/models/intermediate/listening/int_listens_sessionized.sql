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
        track_id,
        listen_date,
        listened_at,
        -- A scrobble without ms_played counts as ending when it starts: the gap to the next
        -- listen is then measured from this one's start.
        {{ dbt.dateadd('millisecond', 'coalesce(ms_played, 0)', 'listened_at') }} as listen_ended_at,
        ms_played,
        source_name,
        batch_id,
        loaded_at

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
            when previous_listens_ended_at is null then listened_at
            when {{ dbt.datediff('previous_listens_ended_at', 'listened_at', 'second') }}
                > {{ session_gap_seconds }} then listened_at
        end as opened_session_at

    from listens_with_previous_end

),

-- In listening order session starts only grow, so a listen's session started at the latest
-- start so far: the same window as above, no second grouping.
listens_with_session_start as (

    select
        *,
        max(opened_session_at) over (
            partition by user_id, listen_date
            order by listened_at, event_id
            rows between unbounded preceding and current row
        ) as session_start

    from flagged_session_starts

),

final as (

    select
        -- ids and keys
        event_id,
        user_id,
        track_id,
        listen_date,
        {{ generate_surrogate_key(['user_id', 'listen_date', 'session_start']) }} as session_id,

        -- timestamps
        session_start,
        listened_at,
        listen_ended_at,

        -- measures
        ms_played,

        -- load metadata
        source_name,
        batch_id,
        loaded_at

    from listens_with_session_start

)

select * from final
