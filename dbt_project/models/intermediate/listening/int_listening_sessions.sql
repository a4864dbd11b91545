{{
    config(
        tmp_relation_type=incremental_tmp_relation_type(),
    )
}}

with

-- Each listen already carries its session (int_listens_sessionized): a session is their group.
listens as (

    select * from {{ ref('int_listens_sessionized') }}
    where {{ partition_window_filter('listen_date') }}

),

final as (

    select
        session_id,
        user_id,
        listen_date,
        session_start,
        max(listen_ended_at) as session_end,
        count(*) as listens,
        cast(sum(ms_played) as {{ dbt.type_bigint() }}) as ms_played

    from listens
    group by session_id, user_id, listen_date, session_start

)

select * from final
