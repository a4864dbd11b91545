with

source as (

    select * from {{ source('landing', 'users') }}

),

renamed as (

    select
        -- ids
        user_id,

        -- attributes
        trim(username) as username,
        nullif(upper(trim(country)), '') as country_code,
        signup_date,
        birth_year,

        -- load metadata
        source as source_name,
        batch_id,
        {{ to_utc_timestamp('loaded_at') }} as loaded_at

    from source

)

select * from renamed
