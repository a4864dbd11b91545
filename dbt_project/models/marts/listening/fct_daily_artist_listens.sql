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

final as (

    select
        listen_date,
        artist_id,
        count(*) as listens,
        count(distinct user_id) as listeners,
        count(distinct track_id) as distinct_tracks,
        cast(sum(ms_played) as {{ dbt.type_bigint() }}) as ms_played,
        avg(completion_ratio) as avg_completion_ratio

    from listens
    -- A listen of a track not yet in the catalogue has no artist to count under yet.
    where artist_id is not null
    group by listen_date, artist_id

)

select * from final
