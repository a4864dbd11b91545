-- Every listen of fct_listens is counted once by its session and by both daily aggregates:
-- returns the days where the four totals disagree. Only the run's window
-- (macros/partition_window.sql; every day without one), so a day's run does not re-read the whole history.
with

listens as (

    select
        listen_date,
        count(*) as listens,
        -- Listens of a track not yet in the catalogue have no artist to count under.
        count(artist_id) as attributed_listens
    from {{ ref('fct_listens') }}
    where {{ partition_window_filter('listen_date') }}
    group by listen_date

),

sessions as (

    select listen_date, sum(listens) as listens
    from {{ ref('int_listening_sessions') }}
    where {{ partition_window_filter('listen_date') }}
    group by listen_date

),

user_days as (

    select listen_date, sum(listens) as listens
    from {{ ref('fct_daily_user_listens') }}
    where {{ partition_window_filter('listen_date') }}
    group by listen_date

),

artist_days as (

    select listen_date, sum(listens) as listens
    from {{ ref('fct_daily_artist_listens') }}
    where {{ partition_window_filter('listen_date') }}
    group by listen_date

),

compared as (

    select
        coalesce(
            listens.listen_date, sessions.listen_date, user_days.listen_date, artist_days.listen_date
        ) as listen_date,
        coalesce(listens.listens, 0) as fct_listens,
        coalesce(listens.attributed_listens, 0) as fct_attributed_listens,
        coalesce(sessions.listens, 0) as session_listens,
        coalesce(user_days.listens, 0) as user_day_listens,
        coalesce(artist_days.listens, 0) as artist_day_listens

    from listens
    full outer join sessions
        on listens.listen_date = sessions.listen_date
    full outer join user_days
        on coalesce(listens.listen_date, sessions.listen_date) = user_days.listen_date
    full outer join artist_days
        on coalesce(listens.listen_date, sessions.listen_date, user_days.listen_date)
            = artist_days.listen_date

)

select *
from compared
where fct_listens != session_listens
    or fct_listens != user_day_listens
    or fct_attributed_listens != artist_day_listens
