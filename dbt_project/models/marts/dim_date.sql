{#-
    A generated calendar from `date_spine_margin_days` before `date_spine_start` (the platform's
    first daily partition, before which no listen is stored) to the same margin after today, so
    daily runs keep finding their day. It reads no listens, so a new day of them does not rebuild
    it. 32768 generated days (about 89 years) bound the spine; the relationships tests on the
    facts catch a listen outside it.
-#}
{%- set margin_days = var('date_spine_margin_days') %}
{%- set first_day = "cast('" ~ _parse_iso_date(var('date_spine_start'), 'date_spine_start') ~ "' as date)" %}

with

spine_bounds as (

    select
        cast({{ dbt.dateadd('day', -margin_days, first_day) }} as date) as spine_start,
        cast({{ dbt.dateadd('day', margin_days, 'current_date') }} as date) as spine_end

),

day_numbers as (

    {{ dbt.generate_series(32768) }}

),

spine as (

    select
        cast({{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'spine_bounds.spine_start') }} as date)
            as date_day

    from spine_bounds
    cross join day_numbers
    where day_numbers.generated_number - 1
        <= {{ dbt.datediff('spine_bounds.spine_start', 'spine_bounds.spine_end', 'day') }}

),

date_parts as (

    select
        date_day,
        {{ iso_day_of_week('date_day') }} as day_of_week,
        cast(extract(day from date_day) as {{ dbt.type_int() }}) as day_of_month,
        {{ iso_week_of_year('date_day') }} as iso_week_of_year,
        cast(extract(month from date_day) as {{ dbt.type_int() }}) as month_of_year,
        cast(extract(quarter from date_day) as {{ dbt.type_int() }}) as quarter_of_year,
        cast(extract(year from date_day) as {{ dbt.type_int() }}) as year_number,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date,
        cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start_date,
        cast({{ dbt.date_trunc('year', 'date_day') }} as date) as year_start_date

    from spine

),

final as (

    select
        date_day,
        day_of_week,
        case day_of_week
            when 1 then 'Monday'
            when 2 then 'Tuesday'
            when 3 then 'Wednesday'
            when 4 then 'Thursday'
            when 5 then 'Friday'
            when 6 then 'Saturday'
            else 'Sunday'
        end as weekday_name,
        day_of_week in (6, 7) as is_weekend,
        day_of_month,
        -- Monday of the ISO week, independent of the warehouse's week-start setting.
        cast({{ dbt.dateadd('day', '1 - day_of_week', 'date_day') }} as date) as week_start_date,
        iso_week_of_year,
        month_start_date,
        month_of_year,
        case month_of_year
            when 1 then 'January'
            when 2 then 'February'
            when 3 then 'March'
            when 4 then 'April'
            when 5 then 'May'
            when 6 then 'June'
            when 7 then 'July'
            when 8 then 'August'
            when 9 then 'September'
            when 10 then 'October'
            when 11 then 'November'
            else 'December'
        end as month_name,
        quarter_start_date,
        quarter_of_year,
        year_start_date,
        year_number

    from date_parts

)

select * from final
