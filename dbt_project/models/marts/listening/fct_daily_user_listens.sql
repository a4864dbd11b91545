{{
    config(
        tmp_relation_type=incremental_tmp_relation_type(),
    )
}}

with

listens as (

    select * from {{ ref('fct_listens') }}
    where {{ partition_window_filter('listen_date') }}

),

sessions as (

    select * from {{ ref('int_listening_sessions') }}
    where {{ partition_window_filter('listen_date') }}

),

user_days as (

    select
        listen_date,
        user_id,
        count(*) as listens,
        count(distinct track_id) as distinct_tracks,
        count(distinct artist_id) as distinct_artists,
        cast(sum(ms_played) as {{ dbt.type_bigint() }}) as ms_played,
        avg(completion_ratio) as avg_completion_ratio

    from listens
    group by listen_date, user_id

),

-- Counted from the sessions (a row each) rather than as distinct session ids over every listen.
user_day_sessions as (

    select
        listen_date,
        user_id,
        count(*) as sessions

    from sessions
    group by listen_date, user_id

),

final as (

    select
        user_days.listen_date,
        user_days.user_id,
        user_days.listens,
        user_days.distinct_tracks,
        user_days.distinct_artists,
        user_day_sessions.sessions,
        user_days.ms_played,
        user_days.avg_completion_ratio

    from user_days
    left join user_day_sessions
        on user_days.listen_date = user_day_sessions.listen_date
        and user_days.user_id = user_day_sessions.user_id

)

select * from final
