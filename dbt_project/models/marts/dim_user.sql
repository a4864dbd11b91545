with

users as (

    select * from {{ ref('stg_landing__users') }}

),

final as (

    select
        user_id,
        username,
        country_code,
        signup_date,
        birth_year,
        source_name,
        loaded_at

    from users

)

select * from final
