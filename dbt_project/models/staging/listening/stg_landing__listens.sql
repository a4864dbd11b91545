with

source as (

    select * from {{ source('landing', 'listens') }}

),

renamed as (

    select
        -- ids
        event_id,
        user_id,
        track_id,

        -- timestamps
        {{ to_utc_timestamp('listened_at') }} as listened_at,
        listen_date,

        -- measures
        ms_played,

        -- load metadata
        source as source_name,
        batch_id,
        {{ to_utc_timestamp('loaded_at') }} as loaded_at

    from source

)

select * from renamed
